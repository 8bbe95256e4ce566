"""Retention and erasure for tracing and feedback: old traces, and everything one person said or did.

A person appears in a trace as its ``user.id`` or ``session.id`` (the trace row's columns), or
anywhere in a span's attributes, events or message (a prompt that quotes their e-mail address).
Erasing them deletes each such trace whole, with its spans and the feedback on it, because a
trace without its user's spans is no longer the request it recorded. Feedback they wrote on
other traces goes too, as does feedback whose text names them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, String, delete, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from llmloop.services.privacy.registry import Handler, register
from llmloop.store.tables.deployments import FeedbackRow
from llmloop.store.tables.traces import SpanRow, TraceRow

if TYPE_CHECKING:
    from llmloop.context import Context

_CHUNK = 500


def _forms(subject: str) -> set[str]:
    """The subject as text and as JSON writes it inside a string (escaped, ASCII-only or not)."""
    return {subject, json.dumps(subject)[1:-1], json.dumps(subject, ensure_ascii=False)[1:-1]}


def mentions(columns: list[Any], subject: str) -> Any:
    """A SQL condition: one of ``columns``, read as text, contains ``subject`` in one of its forms."""
    return or_(
        *(sql_cast(c, String).contains(form, autoescape=True) for c in columns for form in _forms(subject))
    )


def _deleted(session: Session, statement: Any) -> int:
    return int(cast("CursorResult[Any]", session.execute(statement)).rowcount or 0)


def _delete_traces(session: Session, ids: list[str]) -> int:
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        session.execute(delete(FeedbackRow).where(FeedbackRow.trace_id.in_(chunk)))
        session.execute(delete(SpanRow).where(SpanRow.trace_id.in_(chunk)))
        session.execute(delete(TraceRow).where(TraceRow.trace_id.in_(chunk)))
    return len(ids)


def expired_trace_ids(session: Session, project_id: str, cutoff: float) -> list[str]:
    """The traces of the project that ended before ``cutoff``: what ``purge_traces`` deletes, and what
    the monitoring hooks that follow it look for first. Found once per purge transaction, so those
    hooks and the deletion cover the same traces (and the scan runs once)."""
    key = (__name__, "expired", project_id, cutoff)
    found = session.info.get(key)
    if not isinstance(found, list):
        q = select(TraceRow.trace_id).where(TraceRow.project_id == project_id, TraceRow.end_time < cutoff)
        found = session.info[key] = sorted(session.scalars(q))
    return list(found)


def purge_traces(ctx: Context, session: Session, project_id: str, cutoff: float) -> int:
    """Traces of the project that ended before ``cutoff``, with their spans and feedback."""
    return _delete_traces(session, expired_trace_ids(session, project_id, cutoff))


def subject_trace_ids(session: Session, subject: str) -> set[str]:
    """Every trace whose user or session is ``subject`` or one of whose spans mentions it: what
    ``erase_traces`` deletes, and what the monitoring hooks look for in the rows derived from traces."""
    ids = set(
        session.scalars(
            select(TraceRow.trace_id).where(or_(TraceRow.user_id == subject, TraceRow.session_id == subject))
        )
    )
    span_columns = [SpanRow.attributes, SpanRow.events, SpanRow.status_message, SpanRow.name]
    ids |= set(session.scalars(select(SpanRow.trace_id).where(mentions(span_columns, subject)).distinct()))
    return ids


def erase_traces(ctx: Context, session: Session, subject: str) -> int:
    return _delete_traces(session, sorted(subject_trace_ids(session, subject)))


def purge_feedback(ctx: Context, session: Session, project_id: str, cutoff: float) -> int:
    return _deleted(
        session,
        delete(FeedbackRow).where(FeedbackRow.project_id == project_id, FeedbackRow.created_at < cutoff),
    )


def erase_feedback(ctx: Context, session: Session, subject: str) -> int:
    """Feedback ``subject`` wrote, and feedback whose text names them."""
    text_columns = [FeedbackRow.label, FeedbackRow.comment, FeedbackRow.correction, FeedbackRow.preferred]
    return _deleted(
        session,
        delete(FeedbackRow).where(or_(FeedbackRow.created_by == subject, mentions(text_columns, subject))),
    )


register(Handler(kind="traces", description="traces and their spans", purge=purge_traces, erase=erase_traces))
register(
    Handler(kind="feedback", description="feedback on traces", purge=purge_feedback, erase=erase_feedback)
)
