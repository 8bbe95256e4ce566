"""An Optuna study kept in the llmloop database: a journal backend over ``train_sweep_journal``.

Optuna's ``JournalStorage`` rebuilds a study by replaying an append-only log, and supports many
processes appending at once as long as every reader sees the same order. Here each log entry is
a row numbered ``seq`` = 0, 1, 2… per sweep; an append takes the next numbers inside one
transaction (PostgreSQL: under an advisory lock; SQLite: one writer at a time, retried when
busy), so the order is total, gap-free and the same for every process, local or on Ray.

The backend pickles as ``(database URL, sweep id)`` so Ray can ship the searcher that holds it.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Iterable
from typing import Any

from optuna.storages.journal import BaseJournalBackend, JournalStorage
from sqlalchemy import func, insert, select, text

from llmloop.errors import Conflict, Unavailable
from llmloop.store.db import Database, get_database
from llmloop.store.tables.training import SweepJournalRow

APPEND_ATTEMPTS = 60


class DatabaseJournal(BaseJournalBackend):
    def __init__(self, database_url: str, sweep_id: str) -> None:
        self.database_url = database_url
        self.sweep_id = sweep_id
        self._db: Database | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"database_url": self.database_url, "sweep_id": self.sweep_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.database_url = state["database_url"]
        self.sweep_id = state["sweep_id"]
        self._db = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = get_database(self.database_url)
        return self._db

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        with self.db.connect() as conn:
            rows = conn.execute(
                select(SweepJournalRow.log)
                .where(SweepJournalRow.sweep_id == self.sweep_id, SweepJournalRow.seq >= log_number_from)
                .order_by(SweepJournalRow.seq)
            ).all()
        return [json.loads(r[0]) for r in rows]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if not logs:
            return
        encoded = [json.dumps(log, separators=(",", ":")) for log in logs]
        for attempt in range(APPEND_ATTEMPTS):
            try:
                self._append(encoded)
                return
            except (Conflict, Unavailable):  # another process took those numbers first, or SQLite was busy
                if attempt == APPEND_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (1 + attempt / 10))

    def _append(self, encoded: list[str]) -> None:
        with self.db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(self.sweep_id.encode())}
                )
            last = conn.execute(
                select(func.max(SweepJournalRow.seq)).where(SweepJournalRow.sweep_id == self.sweep_id)
            ).scalar()
            start = 0 if last is None else int(last) + 1
            conn.execute(
                insert(SweepJournalRow),
                [{"sweep_id": self.sweep_id, "seq": start + i, "log": e} for i, e in enumerate(encoded)],
            )


def study_storage(database_url: str, sweep_id: str) -> JournalStorage:
    return JournalStorage(DatabaseJournal(database_url, sweep_id))
