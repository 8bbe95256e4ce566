"""training: sweeps and their Optuna journal

Revision ID: 0007_training
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_training"
down_revision = "0001_foundation"
branch_labels = ("training",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "train_sweeps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_train_sweeps_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_train_sweeps")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_train_sweeps_project_id")),
    )
    op.create_table(
        "train_sweep_journal",
        sa.Column("sweep_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sweep_id"],
            ["train_sweeps.id"],
            name=op.f("fk_train_sweep_journal_sweep_id_train_sweeps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sweep_id", "seq", name=op.f("pk_train_sweep_journal")),
    )


def downgrade() -> None:
    op.drop_table("train_sweep_journal")
    op.drop_table("train_sweeps")
