"""``llmloop quickstart`` (what ``make demo`` runs): the whole offline loop on the real SmolLM2 weights.

The budget is cut to a few rows and steps so the test takes a couple of minutes; ``make demo``
runs the full one (see the README for its figures). What is checked is that every step left its
mark in the store, linked: data, prompt, two evaluations, a registered fine-tune with lineage,
a comparison report, and a promotion that happened exactly when the gates passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import llmloop as ll


@pytest.mark.slow
def test_quickstart_runs_the_whole_loop(cli: Any, tmp_path: Path) -> None:
    out = cli(
        "quickstart", "--sft-steps", "2", "--eval-rows", "6", "--project", "qs", "--workdir", str(tmp_path)
    )
    assert out.exit_code == 0, out.stderr
    assert ll.datasets.get("travel-sft", project="qs").rows == 800
    assert ll.datasets.get("travel-eval", project="qs").rows == 200
    assert ll.prompts.get("travel-recommend", project="qs").version.few_shot is not None

    evals = ll.evaluations.list(project="qs").items
    assert sorted(e.model_ref for e in evals) == ["smollm2-135m-instruct@1", "travel-sft@1"]
    assert all(e.status == "completed" and e.n_examples == 6 for e in evals)
    assert all(0.0 <= e.metrics["task_accuracy"].score <= 1.0 for e in evals)

    version = ll.models.get("travel-sft@1", project="qs")
    assert version.run_id is not None and version.base.version == "smollm2-135m-instruct@1"
    lineage = ll.models.lineage("travel-sft@1", project="qs")
    assert {"dataset_version", "run"} <= {e.src_type for e in lineage.upstream}

    report = tmp_path / "report"
    assert (report / "report.html").is_file() and (report / "report.md").read_text().count("task_accuracy")
    promoted = "promoted to champion" in out.stdout and "NOT promoted" not in out.stdout
    assert ("champion" in version.aliases) == promoted
    assert "base vs fine-tune" in out.stdout and "promotion gates" in out.stdout
