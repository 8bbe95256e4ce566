"""Human feedback on traces: a score, a label, a comment, a corrected answer or a preferred one.

Feedback names a trace id the gateway returned in ``x-llmloop-trace-id``. The trace must be
stored already (callers holding a batched writer flush it first), so feedback never points
at nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from llmloop.context import Context
from llmloop.errors import NotFound
from llmloop.security import audit
from llmloop.services.observe import service as traces
from llmloop.services.serve.schemas import Feedback, FeedbackCreate, TraceDetail
from llmloop.store.projects import project_name
from llmloop.store.tables.base import now
from llmloop.store.tables.deployments import FeedbackRow
from llmloop.store.tables.traces import TraceRow


def _feedback(row: FeedbackRow, project: str) -> Feedback:
    return Feedback(
        id=row.id,
        trace_id=row.trace_id,
        project=project,
        score=row.score,
        label=row.label,
        comment=row.comment,
        correction=row.correction,
        preferred=row.preferred,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def create_feedback(ctx: Context, *, spec: FeedbackCreate) -> Feedback:
    with ctx.db.session() as s:
        pid = s.scalar(select(TraceRow.project_id).where(TraceRow.trace_id == spec.trace_id))
        missing = NotFound(f"trace {spec.trace_id!r} not found", details={"trace_id": spec.trace_id})
        if pid is None:
            raise missing
        project = project_name(s, pid)
        ctx.require("feedback:write", project, missing=missing)
        row = FeedbackRow(
            id=uuid.uuid4().hex,
            trace_id=spec.trace_id,
            project_id=pid,
            score=spec.score,
            label=spec.label,
            comment=spec.comment,
            correction=spec.correction,
            preferred=spec.preferred,
            created_at=now(),
            created_by=ctx.actor.id,
        )
        s.add(row)
        s.flush()
        audit.record(
            s, ctx, "feedback.create", f"trace:{spec.trace_id}", after={"id": row.id}, project=project
        )
        return _feedback(row, project)


def list_feedback(
    ctx: Context, *, trace_id: str | None = None, project: str | None = None, limit: int = 10_000
) -> list[Feedback]:
    """Feedback newest first, for one trace or every trace the actor can read."""
    with ctx.db.session() as s:
        q = select(FeedbackRow).order_by(FeedbackRow.created_at.desc()).limit(limit)
        if trace_id is not None:
            q = q.where(FeedbackRow.trace_id == trace_id)
        names: dict[str, str] = {}
        out = []
        for row in s.scalars(q):
            name = names.get(row.project_id) or names.setdefault(
                row.project_id, project_name(s, row.project_id)
            )
            if (project is None or name == project) and ctx.actor.can("feedback:read", name):
                out.append(_feedback(row, name))
        return out


def get_trace_detail(ctx: Context, *, trace_id: str, spans: bool = True) -> TraceDetail:
    """The trace with its spans (or only its root: ``spans=False``) and its feedback.

    The trace's fields are handed over as they are (``dict(trace)``), not dumped and validated
    again: for a 30,000-span trace that round trip cost as much as reading the spans."""
    trace = traces.get_trace(ctx, trace_id=trace_id, spans=spans)
    return TraceDetail(**dict(trace), feedback=list_feedback(ctx, trace_id=trace_id))
