"""Turn 2 of the quickstart on the real SmolLM2 weights, cut budgets: learn from production.

One module-scoped store: turn 1 (cut, so its gate may refuse; the champion is then promoted by hand,
as an operator would, so turn 2 has a model to deploy), then turn 2 twice against the real server with
gates forced each way through ``Turn2Settings``: an impossible drift gate (champion unchanged, no
canary) and gates that always pass (promotion and a weighted canary with live figures). Each run's
traces are asserted: traffic traces with feedback, exported datasets with lineage, both versions, the
deployment's revisions, and the lineage chain back to turn 1's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import llmloop as ll
from llmloop.config import reset_settings
from llmloop.examples.travel.loop import LoopSettings, run_loop
from llmloop.examples.travel.turn2 import DEPLOYMENT, Turn2Settings, Turn2Summary, run_turn2

CUT = Turn2Settings(traffic=12, dev_rows=8, test_rows=6, sft_steps=2, canary_requests=6, workers=4)


@dataclass
class Runs:
    home: Path
    failed: Turn2Summary
    passed: Turn2Summary


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    home = tmp_path_factory.mktemp("qs2")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMLOOP_HOME", str(home / "home"))
        mp.setenv("LLMLOOP_FLUSH_INTERVAL_S", "0.2")
        reset_settings()
        settings = LoopSettings(
            workdir=home / "work", project="qs2", sft_steps=2, test_rows=6, dev_rows=8, train_rows=200
        )
        first = run_loop(settings, announce=lambda _: None)
        if not first.promoted:
            ll.models.promote(first.model_version, "champion", project="qs2", reason="test: cut budget")
        failing = Turn2Settings(**{**CUT.__dict__, "drift_gate": "task_accuracy >= 1.01"})
        failed = run_turn2(settings, failing, announce=lambda _: None)
        passing = Turn2Settings(
            **{**CUT.__dict__, "drift_gate": "task_accuracy >= 0", "original_margin": 1.0}
        )
        passed = run_turn2(settings, passing, announce=lambda _: None)
        yield Runs(home / "home", failed, passed)
    reset_settings()


@pytest.fixture
def store(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> Runs:
    monkeypatch.setenv("LLMLOOP_HOME", str(runs.home))
    reset_settings()
    return runs


@pytest.mark.slow
def test_a_failing_gate_leaves_the_champion_and_no_canary(store: Runs) -> None:
    s = store.failed
    assert not s.passed and not s.promoted and s.canary is None
    assert s.champion == "travel-sft@1" and s.challenger == "travel-sft@2"
    revisions = ll.get_client().deployments.list_revisions(DEPLOYMENT, "qs2")
    # revision 1 the champion; the failing run wrote nothing more, the passing run its canary
    assert revisions[0].revision == 1 or revisions[-1].revision == 1
    first = next(r for r in revisions if r.revision == 1)
    assert [t.model for t in first.spec.targets] == ["travel-sft@1"] and first.spec.policy == "single"


@pytest.mark.slow
def test_traffic_is_traced_rated_and_exported_with_lineage(store: Runs) -> None:
    s = store.failed
    assert len(s.traffic) == CUT.traffic and any(x.row.drifted for x in s.traffic)
    for served in s.traffic:
        fb = ll.get_client().feedback.list_feedback(trace_id=served.trace_id)
        assert len(fb) == 1 and fb[0].score == (1.0 if served.correct else 0.0)
        assert (fb[0].correction is None) == served.correct
    assert set(s.datasets) == {"sft", "preference"}
    chain = s.lineage
    assert chain[0] == "model_version travel-sft@2"
    assert chain[1].startswith("run travel-sft") and "travel-corrections@" in chain[2]
    assert chain[3].startswith("feedback") and chain[4].startswith("trace")
    assert chain[5] == "model_version travel-sft@1" and chain[-1].startswith("dataset_version travel@1")
    evals = {(e.model_ref, e.suite) for e in ll.evaluations.list(project="qs2").items}
    assert ("travel-sft@2", "travel-drift-test") in evals and (
        "travel-sft@2",
        "travel-recommendations-test",
    ) in evals


@pytest.mark.slow
def test_a_passing_gate_promotes_and_starts_a_canary(store: Runs) -> None:
    s = store.passed
    assert s.passed and s.promoted and s.challenger == "travel-sft@3"
    assert ll.models.get("travel-sft@champion", project="qs2").ref == "travel-sft@3"
    dep = ll.get_client().deployments.get_deployment(DEPLOYMENT, "qs2", None)
    assert dep.spec.policy == "weighted"
    weights = {t.model: t.weight for t in dep.spec.targets}
    assert weights == {"travel-sft@1": pytest.approx(0.9), "travel-sft@3": pytest.approx(0.1)}
    assert s.canary is not None and sum(t.requests for t in s.canary.targets) == CUT.canary_requests
