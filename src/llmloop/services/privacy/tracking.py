"""Retention and erasure for experiment tracking: old finished runs, and runs or tags of one person.

Runs cascade to their params, metrics, tags and artifact links (foreign keys ``ON DELETE
CASCADE``); artifact blobs stay in the content-addressed store, where other runs may share them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from llmloop.services.privacy.registry import Handler, register
from llmloop.store.tables.tracking import RunRow, TagRow

if TYPE_CHECKING:
    from llmloop.context import Context


def purge_runs(ctx: Context, session: Session, project_id: str, cutoff: float) -> int:
    """Runs of the project that ended before ``cutoff``; running runs are never purged."""
    ids = list(
        session.scalars(
            select(RunRow.id).where(
                RunRow.project_id == project_id, RunRow.status != "running", RunRow.end_time < cutoff
            )
        )
    )
    return _delete_runs(session, ids)


def erase_runs(ctx: Context, session: Session, subject: str) -> int:
    """Runs created by ``subject`` and, on any run, tags whose value is ``subject``."""
    ids = list(session.scalars(select(RunRow.id).where(RunRow.created_by == subject)))
    tags = cast("CursorResult[Any]", session.execute(delete(TagRow).where(TagRow.value == subject))).rowcount
    return _delete_runs(session, ids) + int(tags or 0)


def _delete_runs(session: Session, ids: list[str]) -> int:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(update(RunRow).where(RunRow.parent_id.in_(chunk)).values(parent_id=None))
        session.execute(delete(RunRow).where(RunRow.id.in_(chunk)))
    return len(ids)


register(
    Handler(
        kind="runs",
        description="experiment runs (ended) and their metrics",
        purge=purge_runs,
        erase=erase_runs,
    )
)
