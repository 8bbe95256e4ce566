"""Sweeps: Optuna TPE + median pruning with trials as child runs, a study kept in the llmloop database
(resumable, shared by local worker processes), and the same study driven by Ray Tune on a real local Ray."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

import llmloop as ll
from llmloop.context import local_context
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunSearch
from llmloop.store.tables.tracking import RunRow
from llmloop.store.tables.training import SweepJournalRow, SweepRow

GOOD, BAD1, BAD2 = 1e-2, 1e-7, 2e-7


def write_sweep(tmp_path: Path, train_raw: dict[str, Any], **extra: Any) -> Path:
    (tmp_path / "sft.yaml").write_text(yaml.safe_dump(train_raw))
    spec = {
        "name": "lr-sweep",
        "train": "sft.yaml",
        "overrides": {"training.eval_steps": 1},
        "space": {"training.learning_rate": {"type": "float", "low": 1e-7, "high": 5e-2, "log": True}},
        "objective": {"metric": "eval_loss", "direction": "minimize"},
        "pruner": {"n_startup_trials": 1},
        **extra,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def children(parent_id: str) -> list[Any]:
    page = tracking.search_runs(
        local_context(), query=RunSearch(parent_id=parent_id, order_by=["start_time ASC"])
    )
    return page.items


def test_optuna_sweep_prunes_resumes_and_runs_trials_in_processes(
    tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    raw = tiny_config(training={"max_steps": 4})
    path = write_sweep(
        tmp_path, raw, trials=3, start_with=[{"training.learning_rate": v} for v in (GOOD, BAD1, BAD2)]
    )
    result = ll.sweep(path)

    assert [t.state for t in result.trials] == ["COMPLETE", "PRUNED", "PRUNED"]
    assert (
        result.best is not None
        and result.best.number == 0
        and result.best.params == {"training.learning_rate": GOOD}
    )
    kids = children(result.run_id)
    assert [k.name for k in kids] == ["lr-sweep-t0", "lr-sweep-t1", "lr-sweep-t2"]
    assert [k.tags["trial_state"] for k in kids] == ["complete", "pruned", "pruned"]
    assert result.best.run_id == kids[0].id and all(
        k.kind == "train" and k.status == "finished" for k in kids
    )
    ctx = local_context()
    pruned_steps = [p.step for p in tracking.metric_history(ctx, run_id=kids[1].id, key="loss")]
    assert pruned_steps[-1] < 4  # stopped early by the median rule
    assert (
        kids[1].params["training.learning_rate"] == str(BAD1) and kids[0].params["register_model"] == "False"
    )

    parent = tracking.get_run(ctx, run_id=result.run_id)
    assert parent.kind == "sweep" and parent.status == "finished" and parent.metrics["trials_pruned"] == 2
    png = next(a for a in parent.artifacts if a.path == "sweep/sweep.png")
    assert ctx.artifacts.read_bytes(png.sha256)[:8] == b"\x89PNG\r\n\x1a\n"
    with ctx.db.session() as s:
        (row,) = s.scalars(select(SweepRow)).all()
        logs = s.scalar(
            select(func.count()).select_from(SweepJournalRow).where(SweepJournalRow.sweep_id == row.id)
        )
    assert row.name == "lr-sweep" and logs and logs > 10

    # the same sweep again with more trials resumes the stored study: only the missing two run, in 2 processes
    path = write_sweep(tmp_path, raw, trials=5, parallel=2)
    again = ll.sweep(path)
    assert again.sweep_id == result.sweep_id and again.ran_now == 2 and len(again.trials) == 5
    new_kids = children(again.run_id)
    assert len(new_kids) == 2 and all(k.status == "finished" for k in new_kids)
    with ctx.db.session() as s:
        pids = {s.get(RunRow, k.id).pid for k in new_kids}  # type: ignore[union-attr]
    assert len(pids) == 2 and __import__("os").getpid() not in pids  # two worker processes


def test_a_changed_search_space_is_a_new_sweep_not_a_resume(
    tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    path = write_sweep(tmp_path, tiny_config(training={"max_steps": 1}), trials=1)
    ll.sweep(path)
    spec = yaml.safe_load(path.read_text())
    spec["space"]["lora.r"] = {"type": "categorical", "choices": [2, 4]}
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ll.Conflict, match="exists with another search space"):
        ll.sweep(path)


@pytest.mark.slow
def test_ray_tune_sweep_runs_trials_on_a_local_ray(
    tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    pytest.importorskip("ray.tune")
    # one trial at a time: Tune reuses the worker, so torch and TRL are imported once
    path = write_sweep(tmp_path, tiny_config(training={"max_steps": 2}), trials=2, parallel=1)
    result = ll.sweep(path, executor="ray")
    assert result.executor == "ray" and result.ran_now == 2
    assert len(result.trials) == 2 and all(
        t.state == "COMPLETE" and t.value is not None for t in result.trials
    )
    kids = children(result.run_id)
    assert len(kids) == 2 and all(k.status == "finished" and k.kind == "train" for k in kids)
    assert {t.run_id for t in result.trials} == {
        k.id for k in kids
    }  # the searcher's trials point at their runs
    with local_context().db.session() as s:
        pids = {s.get(RunRow, k.id).pid for k in kids}  # type: ignore[union-attr]
    assert __import__("os").getpid() not in pids  # trials ran in Ray worker processes
