"""A generation counter in the store for what processes keep in memory from monitoring data.

The drift reference statistics (texts, their embeddings, their clusters) stay in each process's
memory between monitor passes, because recomputing them every few minutes would dominate a pass.
An erasure or a purge deletes the rows in the store, but it runs in one process and cannot reach
the memory of the others (the server, a second worker, a scheduler): without a signal they would
keep holding, and serving, what was erased.

So each such cache has a named counter in the store (``monitor_cache_epochs``). An erasure or a
purge bumps it inside its own transaction, so the bump becomes visible exactly when the deletion
does, and a rolled-back erasure bumps nothing. A process reads the counter before it serves from
memory (one primary-key read, well under a millisecond next to the drift test it guards) and drops
whatever it computed under another generation, so no read that starts after an erasure committed is
answered from what was computed before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from llmloop.store.tables.base import now
from llmloop.store.tables.monitoring import CacheEpochRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from llmloop.context import Context

DRIFT_REFERENCES = "drift_references"


def current(ctx: Context, name: str) -> int:
    """The generation of cache ``name`` in ``ctx``'s store (0 before anything bumped it)."""
    with ctx.db.connect() as conn:  # Core, not a Session: this read runs before every cached answer
        return int(conn.scalar(select(CacheEpochRow.generation).where(CacheEpochRow.name == name)) or 0)


def bump(session: Session, name: str) -> None:
    """Invalidate cache ``name`` in every process once ``session`` commits (one upsert: two erasures
    at once each add one, neither fails on the other's insert)."""
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    t = now()
    statement = insert(CacheEpochRow).values(name=name, generation=1, updated_at=t)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[CacheEpochRow.name],
            set_={"generation": CacheEpochRow.generation + 1, "updated_at": t},
        )
    )
