"""HTTP edges of the auth server: the only place errors become responses."""
