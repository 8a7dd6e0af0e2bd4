"""One module per algorithm family (RFC 7518 section 3, RFC 8037)."""
