"""HTTP-only middleware of the auth server: what is about the transport, not about any use case."""
