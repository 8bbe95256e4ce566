"""Privacy and retention: per-project retention, purge of old data, erasure of one person's data."""
