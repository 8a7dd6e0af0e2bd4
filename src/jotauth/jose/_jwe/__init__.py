"""JWE internals: content encryption (``content``), one module per key-management family."""
