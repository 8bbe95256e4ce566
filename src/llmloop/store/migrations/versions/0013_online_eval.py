"""online evaluation: evaluators (sampled live traffic scored by metrics) and their scores on traces

Revision ID: 0013_online_eval
Revises: 0011_monitoring
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_online_eval"
down_revision = "0011_monitoring"
branch_labels = None
depends_on = None


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"], ["projects.id"], name=op.f(f"fk_{table}_project_id_projects"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "online_evaluators",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        _project_fk("online_evaluators"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_evaluators")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_online_evaluators_project_id")),
    )
    op.create_table(
        "online_scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("evaluator_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=128), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(precision=53), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluator_id"],
            ["online_evaluators.id"],
            name=op.f("fk_online_scores_evaluator_id_online_evaluators"),
            ondelete="CASCADE",
        ),
        _project_fk("online_scores"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_scores")),
        sa.UniqueConstraint(
            "evaluator_id", "version", "metric", "trace_id", name=op.f("uq_online_scores_evaluator_id")
        ),
    )
    op.create_index("ix_online_scores_trace", "online_scores", ["trace_id"], unique=False)
    op.create_index(op.f("ix_online_scores_project_id"), "online_scores", ["project_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_online_scores_project_id"), table_name="online_scores")
    op.drop_index("ix_online_scores_trace", table_name="online_scores")
    op.drop_table("online_scores")
    op.drop_table("online_evaluators")
