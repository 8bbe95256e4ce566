"""A generation counter in the store that erasure and purge bump, so every process sees them.

Two things outlive a deletion unless told about it. The drift reference statistics (texts, their
embeddings, their clusters) stay in each process's memory between monitor passes, because
recomputing them every few minutes would dominate a pass; and a pass that read traces just before
an erasure committed would write, just after it, results, alerts, online scores and cached vectors
derived from the erased traces. An erasure or a purge runs in one process and cannot reach the
others (the server, a second worker, a scheduler) directly.

So the store holds one counter, ``monitoring`` (``monitor_cache_epochs``; the migration creates it
at 0). An erasure or a purge that removes what monitoring derived from traces bumps it in its own
transaction, before its first change to a monitoring table, so the bump becomes visible exactly
when the deletion does and a rolled-back erasure bumps nothing. Then:

- a process reads it before it serves from memory (one primary-key read: 0.17 ms on SQLite, 0.63 ms
  on PostgreSQL on the 2-core machine at load 9) and drops whatever it computed under another
  generation;
- a write of derived data reads it before reading the traces it derives from, and ``hold``s it at
  the start of its write: if it moved, what it computed may quote erased traces, so it is dropped
  (a monitor is measured again, the scores and vectors wait for the next pass). ``hold`` also makes
  the two orders exclusive: an erasure that bumps after a write holds it waits for that write to
  commit, and then finds and scrubs what it wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from llmloop.store.tables.base import now
from llmloop.store.tables.monitoring import CacheEpochRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from llmloop.context import Context

MONITORING = "monitoring"


def current(ctx: Context, name: str = MONITORING) -> int:
    """The generation of ``name`` in ``ctx``'s store (0 before anything bumped it)."""
    with ctx.db.connect() as conn:  # Core, not a Session: this read runs before every cached answer
        return int(conn.scalar(select(CacheEpochRow.generation).where(CacheEpochRow.name == name)) or 0)


def bump(session: Session, name: str = MONITORING) -> None:
    """Invalidate ``name`` in every process once ``session`` commits (one upsert: two erasures at once
    each add one; the row normally exists already, from the migration)."""
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


def hold(session: Session, generation: int, name: str = MONITORING) -> bool:
    """Whether ``name`` is still at ``generation``, locked so no erasure commits before ``session`` does.

    Call it before the transaction's first write. PostgreSQL: a share lock on the counter's row,
    which an erasure's bump waits for (and which waits for an erasure in progress, then reads what it
    committed). SQLite: a no-op update, which takes the database's single write lock for the rest of
    the transaction, so the read after it is the newest.
    """
    row = CacheEpochRow.name == name
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(CacheEpochRow).where(row).values(generation=CacheEpochRow.generation))
        q = select(CacheEpochRow.generation).where(row)
    else:
        q = select(CacheEpochRow.generation).where(row).with_for_update(read=True)
    return int(session.scalar(q) or 0) == generation
