"""monitor cache epochs: a counter per in-memory cache of monitoring data, bumped by erasure and purge

Revision ID: 0014_monitor_cache_epochs
Revises: 0013_online_eval
"""

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


def downgrade() -> None:
    op.drop_table("monitor_cache_epochs")
