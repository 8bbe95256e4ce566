"""traces: OpenTelemetry-shaped traces and spans

Revision ID: 0006_traces
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_traces"
down_revision = "0001_foundation"
branch_labels = ("traces",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("root_span_id", sa.String(length=16), nullable=True),
        sa.Column("start_time", sa.Float(precision=53), nullable=False),
        sa.Column("end_time", sa.Float(precision=53), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("session_id", sa.String(length=256), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_traces_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("trace_id", name=op.f("pk_traces")),
    )
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traces_model"), ["model"], unique=False)
        batch_op.create_index("ix_traces_project_start", ["project_id", "start_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_traces_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_traces_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_traces_user_id"), ["user_id"], unique=False)

    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.Float(precision=53), nullable=False),
        sa.Column("end_time", sa.Float(precision=53), nullable=False),
        sa.Column("status_code", sa.String(length=8), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.trace_id"],
            name=op.f("fk_spans_trace_id_traces"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name=op.f("pk_spans")),
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index("ix_spans_trace_start", ["trace_id", "start_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index("ix_spans_trace_start")
    op.drop_table("spans")
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traces_user_id"))
        batch_op.drop_index(batch_op.f("ix_traces_status"))
        batch_op.drop_index(batch_op.f("ix_traces_session_id"))
        batch_op.drop_index("ix_traces_project_start")
        batch_op.drop_index(batch_op.f("ix_traces_model"))
    op.drop_table("traces")
