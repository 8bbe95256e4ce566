"""An erasure reaches what other processes, and passes already under way, derived from the erased traces.

The test process records traffic and erases a person; a second, real process (``cache_worker``:
the server or another worker) runs the drift monitor over the same store before and after. The
second process must drop what it computed from the erased traces at its next use of the cache: it
holds none of their texts, serves none of the statistics it computed before, and writes none of
their embeddings back to the store. And an erasure that commits in the middle of a monitor pass,
after the pass read its window, leaves nothing of the erased traces in what the pass stores.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.monitor.test_monitor_erasure import _hashes, _hits
from tests.integration.monitor.traffic import record

from llmloop.services.monitor import epoch, online, service
from llmloop.services.monitor.embedding_cache import content_hash
from llmloop.services.monitor.schemas import (
    DriftReference,
    DriftSettings,
    MonitorCreate,
    OnlineEvaluatorCreate,
)
from llmloop.services.privacy import service as privacy
from llmloop.services.prompts import embeddings

P = "epochs"
T0 = 1_900_000_000.0
SUBJECT = "carol-55e1@example.org"


class Worker:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("cache_worker.py"))],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            pytest.fail(f"the cache worker died: {err[-3000:]}")
        return dict(json.loads(line))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def worker(ctx: Any) -> Iterator[Worker]:
    w = Worker()  # after ``ctx``: it inherits the test's LLMLOOP_HOME and LLMLOOP_DATABASE_URL
    yield w
    w.close()


def test_an_erasure_drops_the_reference_statistics_another_process_holds(ctx: Any, worker: Worker) -> None:
    mine = [f"I am {SUBJECT} and want a ryokan in Kyoto for {i + 2} nights" for i in range(6)]
    others = [f"A quiet beach in the Algarve for {i + 2} days" for i in range(12)]
    reference = others[:6] + mine + others[6:]  # the reference window's texts, in start order
    for i, text in enumerate(reference):
        record(ctx, project=P, at=T0 + i, user=SUBJECT if text in mine else "bob", text=text)
    now = T0 + 1000
    for i in range(12):
        record(
            ctx, project=P, at=now - 300 + i, user="bob", text=f"A loud city break in Berlin, night {i + 1}"
        )
    service.create_monitor(ctx, spec=MonitorCreate(
        name="asks", project=P, window_s=600,
        drift=DriftSettings(reference=DriftReference(start=T0, end=T0 + 100), min_samples=10),
    ))  # fmt: skip

    first = worker.ask(op="run", project=P, now=now)
    assert first["status"] == ["ok"] and set(mine) <= set(first["held"])
    served = worker.ask(op="reference", texts=reference)["id"]
    assert worker.ask(op="reference", texts=reference)["id"] == served  # kept in memory between uses
    mine_hashes = {content_hash(t) for t in mine}
    assert mine_hashes <= _hashes(ctx)
    generation = epoch.current(ctx)

    privacy.erase_subject(ctx, subject=SUBJECT)  # in this process, which holds no cache of its own

    assert epoch.current(ctx) == generation + 1
    assert not mine_hashes & _hashes(ctx)
    second = worker.ask(op="run", project=P, now=now + 1)
    assert second["status"] == ["ok"]
    assert not set(mine) & set(second["held"])  # dropped at its next use of the cache, not at exit
    assert set(others) <= set(second["held"])
    assert not mine_hashes & _hashes(ctx)  # and it wrote none of the erased vectors back
    assert worker.ask(op="reference", texts=reference)["id"] != served  # computed anew, not from memory


class ErasingEmbedder:
    """The real all-MiniLM-L6-v2 that, the first time it is asked, first erases ``subject`` (a real
    erasure, committed): an erasure landing in a monitor pass after the pass read its window."""

    model_id = embeddings.MINILM_ID

    def __init__(self, ctx: Any, subject: str, real: embeddings.Embedder) -> None:
        self.ctx, self.subject, self.real = ctx, subject, real
        self.erased: dict[str, int] | None = None

    def encode(self, texts: Any) -> Any:
        if self.erased is None:
            self.erased = privacy.erase_subject(self.ctx, subject=self.subject).removed
        return self.real.encode(texts)


def test_an_erasure_during_a_monitor_pass_leaves_nothing_of_the_erased_traces(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(12):
        record(ctx, project=P, at=T0 + i, user="bob", text=f"A quiet beach in the Algarve for {i + 2} days")
    now = T0 + 1000
    mine = [f"I am {SUBJECT}: a ryokan in Kyoto for {i + 2} nights" for i in range(6)]
    mine_ids = [record(ctx, project=P, at=now - 300 + i, user=SUBJECT, text=t) for i, t in enumerate(mine)]
    for i in range(12):
        record(
            ctx, project=P, at=now - 200 + i, user="bob", text=f"A loud city break in Berlin, night {i + 1}"
        )
    service.create_monitor(ctx, spec=MonitorCreate(
        name="asks", project=P, window_s=600,
        drift=DriftSettings(reference=DriftReference(start=T0, end=T0 + 100), min_samples=10),
    ))  # fmt: skip
    erasing = ErasingEmbedder(ctx, SUBJECT, embeddings.default_embedder())
    monkeypatch.setattr(embeddings, "_default", erasing)

    (result,) = service.run_monitors(ctx, project=P, now=now).results

    assert erasing.erased is not None and erasing.erased["traces"] == 6  # it did erase, mid-pass
    assert result.status == "ok" and result.drift is not None
    assert result.drift.n_current == 12  # measured again, without the erased traces
    assert not {e.text for e in result.drift.examples} & set(mine)
    needles = {SUBJECT, *mine, *mine_ids, *(content_hash(t) for t in mine)}
    assert _hits(ctx, needles) == []  # no result, alert or cached vector of theirs was written after it


ERASING_JUDGE = """
from llmloop.context import local_context
from llmloop.services.privacy import service

ERASED = []


def grade(batch, **params):
    # the first time it judges, the traces it was handed are erased (a real erasure, committed) first
    if not ERASED:
        ERASED.append(service.erase_subject(local_context(), subject=%r).removed["traces"])
    return ["Score: 4" for _ in batch]
"""


def test_an_erasure_during_an_online_pass_stores_none_of_its_scores(
    ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"erasing_judge_{tmp_path.name.replace('-', '_')}"  # one per test: it remembers erasing
    (tmp_path / f"{module}.py").write_text(ERASING_JUDGE % SUBJECT)
    monkeypatch.syspath_prepend(str(tmp_path))
    now = T0 + 1000
    mine = [
        record(ctx, project=P, at=now - 60 + i, user=SUBJECT, text=f"{SUBJECT} asks {i}") for i in range(3)
    ]
    theirs = [record(ctx, project=P, at=now - 50 + i, user="bob", text=f"bob asks {i}") for i in range(3)]
    metrics = [{"kind": "judge", "model": f"py:{module}:grade"}]
    online.create_evaluator(
        ctx,
        spec=OnlineEvaluatorCreate(
            name="judged", project=P, sample_rate=1.0, metrics=metrics, lookback_s=600
        ),  # type: ignore[arg-type]
    )

    (first,) = online.run_online(ctx, project=P, now=now).passes

    assert importlib.import_module(module).ERASED == [
        3
    ]  # it did erase, mid-pass, after the pass read the six traces
    assert first.sampled == 6 and first.scored == {"judge": 0}
    assert "an erasure or purge committed during this pass" in first.errors[0]
    assert all(online.list_scores(ctx, project=P, trace_id=x) == [] for x in mine + theirs)
    (second,) = online.run_online(ctx, project=P, now=now).passes
    assert second.sampled == 3 and second.scored == {"judge": 3} and second.errors == []
    assert all(len(online.list_scores(ctx, project=P, trace_id=x)) == 1 for x in theirs)
