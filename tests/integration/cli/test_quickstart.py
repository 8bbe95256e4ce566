"""``llmloop quickstart`` (what ``make demo`` runs): the first turn of the loop on the real SmolLM2 weights.

The budget is cut (``--fast`` and fewer steps/rows) so the test takes a couple of minutes; ``make
demo`` runs the full one (see examples/travel/README.md for its figures). What is checked is that
every step left its mark in the store, linked: one dataset with train/dev/test splits, both prompts,
the base's candidate prompts scored on dev only, one test evaluation per model, a fine-tune that
records the prompt it learned, and a promotion that happened exactly when the gates passed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import llmloop as ll
from llmloop.examples.travel.loop import CANDIDATE_BASELINES, PROMPT, PROMPTS


@pytest.mark.slow
def test_quickstart_runs_the_first_turn(cli: Any, tmp_path: Path) -> None:
    out = cli(
        "quickstart", "--fast", "--sft-steps", "2", "--test-rows", "6", "--project", "qs",
        "--workdir", str(tmp_path),
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    data = ll.datasets.get("travel", project="qs")
    assert data.rows == 200 + 32 + 6  # train + dev (at least the 32 eval-loss rows) + test
    for name in PROMPTS:
        assert ll.prompts.get(name, project="qs").ref == f"{name}@1"

    evals = ll.evaluations.list(project="qs").items
    by_split = Counter((e.model_ref, e.suite.rsplit("-", 1)[-1]) for e in evals)
    assert by_split[("smollm2-135m-instruct@1", "dev")] == len(CANDIDATE_BASELINES)
    assert by_split[("smollm2-135m-instruct@1", "test")] == 1  # test is read once per model
    assert by_split[("travel-sft@1", "test")] == 1 and by_split[("travel-sft@1", "dev")] == 0
    assert all(e.status == "completed" for e in evals)
    assert all(e.n_examples == 6 for e in evals if e.suite.endswith("-test"))

    version = ll.models.get("travel-sft@1", project="qs")
    assert version.metadata["prompt"] == f"{PROMPT}@1"  # pinned: what evaluation and serving ask it with
    assert version.run_id is not None and version.base.version == "smollm2-135m-instruct@1"
    lineage = ll.models.lineage("travel-sft@1", project="qs")
    assert {"dataset_version", "run"} <= {e.src_type for e in lineage.upstream}

    report = tmp_path / "report"
    assert (report / "report.html").is_file() and (report / "report.md").read_text().count("task_accuracy")
    promoted = "promoted to champion" in out.stdout and "NOT promoted" not in out.stdout
    assert ("champion" in version.aliases) == promoted
    assert "on the test split" in out.stdout and "promotion gates" in out.stdout
    assert "base model prompts on dev" in out.stdout
    assert "peak memory: this process" in out.stdout  # the summary says what the demo needed
    assert "training travel-sft: 2/2 (100%)" in out.stderr  # training shows life in a log, too

    # The quickstart is the pipeline loop.yaml: run again with nothing changed, every step is served
    # from the cache, nothing is evaluated or trained again, and the same figures are printed.
    versions = [(m.name, m.versions) for m in ll.models.list(project="qs")]
    again = cli(
        "quickstart", "--fast", "--sft-steps", "2", "--test-rows", "6", "--project", "qs",
        "--workdir", str(tmp_path),
    )  # fmt: skip
    assert again.exit_code == 0, again.stderr
    runs = ll.get_client().pipelines.list_runs(project="qs").items
    assert len(runs) == 2
    run = ll.pipelines.status(runs[0].id)
    assert run.name == "travel-quickstart" and {s.state for s in run.steps} == {"cached"}
    assert f"({len(run.steps)} of {len(run.steps)} steps from the cache)" in again.stdout
    assert len(ll.evaluations.list(project="qs").items) == len(evals)
    assert [(m.name, m.versions) for m in ll.models.list(project="qs")] == versions  # no new model version
    assert "training travel-sft" not in again.stderr
    table = out.stdout[out.stdout.index("on the test split") :].split("promotion gates")[0]
    assert table in again.stdout  # the same comparison, read back from the first run's outputs
