"""``llmloop quickstart`` (what ``make demo`` runs) completes and leaves a tracked, searchable sweep."""

from __future__ import annotations

from typing import Any

import llmloop as ll


def test_quickstart_runs_the_tracked_sweep(cli: Any) -> None:
    out = cli("quickstart", "--seed", "1")
    assert out.exit_code == 0, out.stderr
    assert "best trial" in out.stdout
    runs = ll.search_runs(project="quickstart", limit=100)
    sweep = [r for r in runs if r.kind == "sweep"]
    trials = [r for r in runs if r.parent_id == sweep[0].id]
    assert len(sweep) == 1 and len(trials) == 4
    assert all(r.status == "finished" for r in runs)
    best = min(trials, key=lambda r: r.metrics["loss"])
    assert best.metrics["accuracy"] > 0.9, "the toy problem is separable; training must actually learn"
    history = ll.get_run(best.id).metric_history("loss")
    assert len(history) == 60 and history[-1].value < history[0].value
    assert [a.path for a in best.artifacts] == ["weights.json"]
