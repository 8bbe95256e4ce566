"""monitor cache epochs: the generation erasure and purge bump, read by caches and writes of derived data

Revision ID: 0014_monitor_cache_epochs
Revises: 0013_online_eval
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0014_monitor_cache_epochs"
down_revision = "0013_online_eval"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_cache_epochs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitor_cache_epochs")),
    )
    # the row exists from the start, so a write's share lock on it always has a row to lock
    epochs = sa.table(
        "monitor_cache_epochs",
        sa.column("name", sa.String()),
        sa.column("generation", sa.Integer()),
        sa.column("updated_at", sa.Float()),
    )
    op.bulk_insert(epochs, [{"name": "monitoring", "generation": 0, "updated_at": time.time()}])


def downgrade() -> None:
    op.drop_table("monitor_cache_epochs")
