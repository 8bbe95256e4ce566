"""``llmloop quickstart`` (what ``make demo`` runs) on the real SmolLM2 weights, cut budgets: both turns.

One module-scoped store, so the real weights train and answer once for all of these tests:

1. turn 1 through the CLI (``--fast`` and fewer steps/rows, so its gate may refuse either way); what it
   left is recorded before anything else runs: one dataset with train/dev/test splits, both prompts,
   the base's candidate prompts scored on dev only, one test evaluation per model, a fine-tune that
   records the prompt it learned, and a promotion exactly when the gates passed;
2. the same command again: the quickstart is the pipeline ``loop.yaml``, so every step comes from the
   cache and nothing is trained or evaluated again;
3. turn 2 twice against the real server (the champion promoted by hand if turn 1 refused, as an
   operator would), with gates forced each way through ``Turn2Settings``: an impossible drift gate
   (champion unchanged, no canary) and gates that always pass (promotion and a weighted canary with
   live figures). Each run's traces are asserted: traffic with feedback, exported datasets with
   lineage, both versions, the deployment's revisions, and the lineage chain back to turn 1's data.

``make demo`` runs the full budget (see examples/travel/README.md for its figures).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliResult, run_cli

import llmloop as ll
from llmloop.cli.quickstart import _turn2
from llmloop.config import reset_settings
from llmloop.examples.travel import turn2_steps, watch
from llmloop.examples.travel.loop import CANDIDATE_BASELINES, PROMPT, PROMPTS, LoopSettings
from llmloop.examples.travel.turn2 import DEPLOYMENT, Turn2Outcome, Turn2Settings, Turn2Summary, run_turn2

# The module's store is built once, in its first test's setup: two turn-1 CLI runs and two turn-2
# runs on real weights (about 5 minutes on 2 quiet cores), more than the suite's 600 s per test
# allows on a loaded machine.
pytestmark = pytest.mark.timeout(1800)

P = "qs"
ARGS = ("quickstart", "--fast", "--sft-steps", "2", "--test-rows", "6", "--turns", "1", "--project", P)
# 40 requests: the drift monitor needs 30 texts in its window (``min_samples``) to test at all
CUT = Turn2Settings(traffic=40, dev_rows=8, test_rows=6, sft_steps=2, canary_requests=6, workers=4)


@dataclass
class TurnOne:
    """What turn 1 left in the store, read before the second run and turn 2 change anything."""

    out: CliResult
    evals: list[Any]
    champion_after: bool
    models: list[tuple[str, int]]


@dataclass
class Runs:
    home: Path
    workdir: Path
    first: TurnOne
    again: CliResult
    evals_after_again: int
    models_after_again: list[tuple[str, int]]
    failed: Turn2Summary
    passed: Turn2Summary


def _models() -> list[tuple[str, int]]:
    return [(m.name, m.versions) for m in ll.models.list(project=P)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("qs")
    work = root / "work"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMLOOP_HOME", str(root / "home"))
        mp.setenv("LLMLOOP_FLUSH_INTERVAL_S", "0.2")
        reset_settings()
        out = run_cli(*ARGS, "--workdir", str(work))
        assert out.exit_code == 0, out.stderr
        first = TurnOne(
            out,
            ll.evaluations.list(project=P).items,
            "champion" in ll.models.get("travel-sft@1", project=P).aliases,
            _models(),
        )
        again = run_cli(*ARGS, "--workdir", str(work))
        evals_after_again, models_after_again = len(ll.evaluations.list(project=P).items), _models()
        if not first.champion_after:
            ll.models.promote("travel-sft@1", "champion", project=P, reason="test: cut budget")
        settings = LoopSettings(workdir=work, project=P, sft_steps=2, test_rows=6, dev_rows=8, train_rows=200)
        failing = Turn2Settings(**{**CUT.__dict__, "drift_gate": "task_accuracy >= 1.01"})
        failed = run_turn2(settings, failing, announce=lambda _: None)
        passing = Turn2Settings(
            **{**CUT.__dict__, "drift_gate": "task_accuracy >= 0", "original_margin": 1.0}
        )
        passed = run_turn2(settings, passing, announce=lambda _: None)
        yield Runs(root / "home", work, first, again, evals_after_again, models_after_again, failed, passed)
    reset_settings()


@pytest.fixture
def store(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> Runs:
    monkeypatch.setenv("LLMLOOP_HOME", str(runs.home))
    reset_settings()
    return runs


@pytest.mark.slow
def test_turn_one_leaves_every_step_in_the_store_linked(store: Runs) -> None:
    out = store.first.out
    data = ll.datasets.get("travel", project=P)
    assert data.rows == 200 + 32 + 6  # train + dev (at least the 32 eval-loss rows) + test
    for name in PROMPTS:
        assert ll.prompts.get(name, project=P).ref == f"{name}@1"

    evals = store.first.evals
    by_split = Counter((e.model_ref, e.suite.rsplit("-", 1)[-1]) for e in evals)
    assert by_split[("smollm2-135m-instruct@1", "dev")] == len(CANDIDATE_BASELINES)
    assert by_split[("smollm2-135m-instruct@1", "test")] == 1  # test is read once per model
    assert by_split[("travel-sft@1", "test")] == 1 and by_split[("travel-sft@1", "dev")] == 0
    assert all(e.status == "completed" for e in evals)
    assert all(e.n_examples == 6 for e in evals if e.suite.endswith("-test"))

    version = ll.models.get("travel-sft@1", project=P)
    assert version.metadata["prompt"] == f"{PROMPT}@1"  # pinned: what evaluation and serving ask it with
    assert version.run_id is not None and version.base.version == "smollm2-135m-instruct@1"
    lineage = ll.models.lineage("travel-sft@1", project=P)
    assert {"dataset_version", "run"} <= {e.src_type for e in lineage.upstream}

    report = store.workdir / "report"
    assert (report / "report.html").is_file() and (report / "report.md").read_text().count("task_accuracy")
    promoted = "promoted to champion" in out.stdout and "NOT promoted" not in out.stdout
    assert store.first.champion_after == promoted
    assert "on the test split" in out.stdout and "promotion gates" in out.stdout
    assert "base model prompts on dev" in out.stdout
    assert "peak memory: this process" in out.stdout  # the summary says what the demo needed
    assert "training travel-sft: 2/2 (100%)" in out.stderr  # training shows life in a log, too


@pytest.mark.slow
def test_the_same_command_again_is_served_from_the_pipeline_cache(store: Runs) -> None:
    again = store.again
    assert again.exit_code == 0, again.stderr
    runs = ll.get_client().pipelines.list_runs(project=P, name="travel-quickstart").items
    assert len(runs) == 2
    run = ll.pipelines.status(runs[0].id)
    assert run.name == "travel-quickstart" and {s.state for s in run.steps} == {"cached"}
    assert f"({len(run.steps)} of {len(run.steps)} steps from the cache)" in again.stdout
    assert store.evals_after_again == len(store.first.evals)  # nothing evaluated again
    assert store.models_after_again == store.first.models  # no new model version
    assert "training travel-sft" not in again.stderr
    table = store.first.out.stdout[store.first.out.stdout.index("on the test split") :]
    assert table.split("promotion gates")[0] in again.stdout  # the same figures, read back


@pytest.mark.slow
def test_a_failing_gate_leaves_the_champion_and_no_canary(store: Runs) -> None:
    s = store.failed
    assert not s.passed and not s.promoted and s.canary is None
    assert s.champion == "travel-sft@1" and s.challenger == "travel-sft@2"
    revisions = ll.get_client().deployments.list_revisions(DEPLOYMENT, P)
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
    evals = {(e.model_ref, e.suite) for e in ll.evaluations.list(project=P).items}
    assert ("travel-sft@2", "travel-drift-test") in evals
    assert ("travel-sft@2", "travel-recommendations-test") in evals


@pytest.mark.slow
def test_the_drift_monitor_alerts_and_its_trigger_starts_the_learning_half(store: Runs) -> None:
    """Production closes the loop itself: the drifted traffic is found unlike what the champion was
    trained on, the alert quotes the traces, and the trigger starts learn.yaml (nothing is called by hand)."""
    s = store.failed
    assert s.drift is not None and s.drift.drifted and s.drift.p_value < s.drift.alpha
    assert s.drift.n_current == CUT.traffic and s.drift.examples
    assert s.alert is not None and s.alert.rule == watch.RULE and s.alert.status == "firing"
    traffic = {x.trace_id for x in s.traffic}
    assert s.alert.trace_ids and set(s.alert.trace_ids) <= traffic
    assert s.trigger is not None and s.trigger.action == "start"
    assert s.trigger.outcome.startswith(f"started {store.workdir.resolve() / 'learn.yaml'}: finished ")
    learned = ll.pipelines.status(s.learn_run)
    assert learned.name == "travel-learn" and learned.status == "finished"
    names = ["export", "sft", "champion-drift", "challenger-drift", "challenger-original", "gate"]
    assert [x.name for x in learned.steps] == names
    assert (store.workdir / "monitoring.yaml").is_file()
    # the second start re-exports and retrains, but the champion's evaluation on the drifted slice is
    # the first start's, from the cache: that slice is read once per model
    again = ll.pipelines.status(store.passed.learn_run)
    assert again.step("champion-drift").state == "cached" and again.step("sft").state == "finished"
    assert store.passed.champion_drift.id == s.champion_drift.id


@pytest.mark.slow
def test_a_passing_gate_promotes_and_starts_a_canary(store: Runs) -> None:
    s = store.passed
    assert s.passed and s.promoted and s.challenger == "travel-sft@3"
    assert ll.models.get("travel-sft@champion", project=P).ref == "travel-sft@3"
    dep = ll.get_client().deployments.get_deployment(DEPLOYMENT, P, None)
    assert dep.spec.policy == "weighted"
    weights = {t.model: t.weight for t in dep.spec.targets}
    assert weights == {"travel-sft@1": pytest.approx(0.9), "travel-sft@3": pytest.approx(0.1)}
    assert s.canary is not None and sum(t.requests for t in s.canary.targets) == CUT.canary_requests


@pytest.mark.slow
def test_turn_two_prints_the_same_from_its_pipeline_output(
    store: Runs, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline stores turn 2's outcome as JSON; a cached run prints the tables from it."""
    outcome = Turn2Outcome.of(store.passed)
    back = Turn2Outcome.model_validate(json.loads(json.dumps(outcome.model_dump(mode="json"))))
    assert back == outcome
    _turn2(back, P)
    shown = capsys.readouterr().out
    assert "travel-sft@3: promoted to champion, canary started; champion is qs/travel-sft@3" in shown
    assert f"deployment {DEPLOYMENT} revision" in shown and "live figures" in shown
    assert "lineage: model_version travel-sft@3 <- " in shown


def test_turn_two_is_skipped_without_a_promotion(tmp_path: Path) -> None:
    told = turn2_steps.second_turn(
        verdict={"promoted": False},
        data="travel@1",
        project=P,
        seed=0,
        test_rows=6,
        engine="transformers",
        turn2={},
    )
    assert told == {"summary": {"skipped": "turn 1's gates failed, so there is no new champion to deploy"}}
