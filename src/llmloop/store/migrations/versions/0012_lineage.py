"""traces: the deployment and the target (arm of the split) each gateway trace was routed to

Live figures per target of a weighted split (requests, errors, latency, feedback) read these two
columns through one index instead of scanning span attributes.

Revision ID: 0012_lineage
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_lineage"
down_revision = "0001_foundation"
branch_labels = None
depends_on = ("0006_traces",)


def upgrade() -> None:
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deployment", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("target", sa.String(length=256), nullable=True))
        batch_op.create_index(
            "ix_traces_project_deployment_start", ["project_id", "deployment", "start_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_index("ix_traces_project_deployment_start")
        batch_op.drop_column("target")
        batch_op.drop_column("deployment")
