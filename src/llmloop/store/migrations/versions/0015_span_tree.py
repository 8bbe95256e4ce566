"""spans: an index on (trace, parent, start time, span id) for the span tree

A trace's span tree is paged in SQL (``services/observe/tree.py``): each sibling list is read in
tree order, and each span's children counted, through this index instead of reading the trace's
spans whole (seconds for an agent's 30,000-span trace).

Revision ID: 0015_span_tree
Revises: 0014_monitor_cache_epochs
"""

from alembic import op

revision = "0015_span_tree"
down_revision = "0014_monitor_cache_epochs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain CREATE INDEX (no batch copy of the table): a store may hold millions of spans
    op.create_index(
        "ix_spans_trace_parent",
        "spans",
        ["trace_id", "parent_span_id", "start_time", "span_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_spans_trace_parent", table_name="spans")
