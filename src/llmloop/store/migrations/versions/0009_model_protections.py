"""models: protected aliases (a stored eval suite guards each move) and forced moves in the alias history

Revision ID: 0009_model_protections
Revises: 0004_models
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_model_protections"
down_revision = "0004_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_alias_protections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("suite", sa.Text(), nullable=False),
        sa.Column("suite_name", sa.String(length=256), nullable=False),
        sa.Column("suite_sha256", sa.String(length=64), nullable=False),
        sa.Column("baseline_alias", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_model_alias_protections_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_alias_protections")),
        sa.UniqueConstraint("model_id", "alias", name=op.f("uq_model_alias_protections_model_id")),
    )
    with op.batch_alter_table("model_alias_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forced", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("model_alias_events", schema=None) as batch_op:
        batch_op.drop_column("forced")
    op.drop_table("model_alias_protections")
