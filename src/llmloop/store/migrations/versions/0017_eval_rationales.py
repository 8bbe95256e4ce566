"""evaluation examples: the judge's rationale per metric, beside the scores

An ``llm_judge`` score comes with the judge's text; keeping it (clipped, see
``services/evaluate/scoring.RATIONALE_CHARS``) lets the evaluation page show why an answer scored
low. Nullable: examples evaluated before this revision read back with no rationales.

Revision ID: 0017_eval_rationales
Revises: 0007_evaluations
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_eval_rationales"
down_revision = "0007_evaluations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column, not a batch copy of the table: a store may hold millions of examples
    op.add_column("evaluation_examples", sa.Column("rationales", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluation_examples", schema=None) as batch_op:
        batch_op.drop_column("rationales")
