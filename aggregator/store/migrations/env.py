"""Alembic environment: migrates the engine handed over by aggregator.store.db."""

from alembic import context

from aggregator.store.models import Base


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave APScheduler's own job table (created by `aggregator schedule`) to APScheduler."""
    return not (type_ == "table" and name == "apscheduler_jobs")


config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table
        render_as_batch=True,
        include_object=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()
