"""The auth server's logic, free of HTTP: users, passwords, keys, tokens, revocations."""
