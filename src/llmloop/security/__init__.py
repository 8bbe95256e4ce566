"""Who may do what: actors, roles, permissions (and, as they land, keys, audit and crypto)."""
