"""Core storage: the metadata database, the artifact store and lineage."""
