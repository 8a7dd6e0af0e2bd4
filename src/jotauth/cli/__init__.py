"""The ``jotauth`` command line: server, users, keys and token tools."""
