"""The HTTP server: REST API under /api/v1 (and, as they land, the gateway and the UI)."""
