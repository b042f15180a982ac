"""The archive: re-analyse many recorded procedures on a Ray cluster (or a local Ray instance)
with the same replay code as `livescope run`, results in an embedded DuckDB database."""
