"""The Optuna journal in the llmloop database: gap-free order under concurrent appends, on SQLite and PostgreSQL."""

from __future__ import annotations

import pickle
import threading
import uuid
from typing import Any

import optuna
from sqlalchemy import select

from llmloop.security import audit
from llmloop.services.train.study_store import DatabaseJournal, study_storage
from llmloop.store.projects import project_id
from llmloop.store.tables.training import SweepJournalRow, SweepRow


def _sweep(ctx: Any) -> str:
    sweep_id = uuid.uuid4().hex
    with ctx.db.session() as s:
        s.add(
            SweepRow(
                id=sweep_id,
                project_id=project_id(s, "default", create=True),
                name=sweep_id,
                spec={},
                spec_hash="x",
            )
        )
        audit.record(s, ctx, "sweeps.create", f"sweep:{sweep_id}", project="default")  # as a real sweep does
    return sweep_id


def test_concurrent_appends_get_one_gap_free_order(ctx: Any) -> None:
    journal = DatabaseJournal(ctx.db.url, _sweep(ctx))

    def writer(w: int) -> None:
        own = DatabaseJournal(ctx.db.url, journal.sweep_id)
        for i in range(10):
            own.append_logs([{"w": w, "i": i}, {"w": w, "i": i, "second": True}])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logs = list(journal.read_logs(0))
    assert len(logs) == 80
    for w in range(4):  # each writer's logs stay in its order, and each batch stays together
        mine = [(i, log) for i, log in enumerate(logs) if log["w"] == w]
        assert [log["i"] for _, log in mine] == sorted(log["i"] for _, log in mine)
        assert all(mine[k + 1][0] == mine[k][0] + 1 for k in range(0, len(mine), 2))
    with ctx.db.session() as s:
        seqs = s.scalars(
            select(SweepJournalRow.seq).where(SweepJournalRow.sweep_id == journal.sweep_id)
        ).all()
    assert sorted(seqs) == list(range(80))
    assert list(journal.read_logs(78)) == logs[78:]


def test_a_study_round_trips_and_the_backend_pickles(ctx: Any) -> None:
    sweep_id = _sweep(ctx)
    study = optuna.create_study(study_name="s", storage=study_storage(ctx.db.url, sweep_id))
    study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.3) ** 2, n_trials=5)
    clone = pickle.loads(pickle.dumps(DatabaseJournal(ctx.db.url, sweep_id)))
    again = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(clone))
    assert len(again.trials) == 5 and again.best_value == study.best_value
