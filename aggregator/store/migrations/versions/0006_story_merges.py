"""story merges: stories.merged_into, so a link to a merged story leads to the one it joined

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_stories_merged_into"), ["merged_into"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.drop_index(batch.f("ix_stories_merged_into"))
        batch.drop_column("merged_into")
