"""Stage 4, state: one DuckDB file per school, its schema and the analysts' views."""
