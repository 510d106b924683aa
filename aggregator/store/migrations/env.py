"""Alembic environment: migrates the engine handed over by aggregator.store.db."""

from alembic import context

from aggregator.store.db import is_modelled
from aggregator.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table
        render_as_batch=True,
        include_object=is_modelled,
    )
    with context.begin_transaction():
        context.run_migrations()
