"""The SQL store: models, engine and sessions, and the queries the rest of the code may call."""
