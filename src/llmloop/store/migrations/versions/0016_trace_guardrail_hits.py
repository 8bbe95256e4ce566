"""traces: guardrail_hits, the trace's guardrail checks that recorded a decision

A monitor of guardrail hits read the window's guardrail spans through a join (240 ms over a day's
window of a million spans); the count now lives on the trace summary, kept as spans are stored.
Traces stored before are counted here once, from their spans: a guardrail span
(``guardrails <stage>``) with events, or that names a refusal.

Revision ID: 0016_trace_guardrail_hits
Revises: 0015_span_tree
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_trace_guardrail_hits"
down_revision = "0015_span_tree"
branch_labels = None
depends_on = None

# JSON text as both dialects store it (the writer's compact separators); CAST reads PostgreSQL's
# json column as text and leaves SQLite's text as it is
_BACKFILL = """UPDATE traces SET guardrail_hits = (
 SELECT COUNT(*) FROM spans WHERE spans.trace_id = traces.trace_id AND spans.name LIKE 'guardrails %'
  AND (CAST(spans.events AS TEXT) NOT IN ('[]', '')
   OR (CAST(spans.attributes AS TEXT) LIKE '%"llmloop.guardrail.refused":%'
    AND CAST(spans.attributes AS TEXT) NOT LIKE '%"llmloop.guardrail.refused":""%')))
WHERE EXISTS (SELECT 1 FROM spans WHERE spans.trace_id = traces.trace_id AND spans.name LIKE 'guardrails %')"""


def upgrade() -> None:
    # add_column, not a batch copy of the table: a store may hold millions of traces
    op.add_column("traces", sa.Column("guardrail_hits", sa.Integer(), server_default="0", nullable=False))
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("traces") as batch:
        batch.drop_column("guardrail_hits")
