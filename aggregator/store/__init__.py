"""The SQL store: models, engine and sessions, and one module of queries per table group."""
