"""The tracking service on a real store, SQLite and PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import pytest

from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate, RunSearch


def _run(ctx: Any, **kw: Any) -> str:
    return service.create_run(ctx, spec=RunCreate(**{"project": "p", **kw})).id


def test_create_log_and_read_back(ctx: Any) -> None:
    rid = _run(ctx, name="first", params={"lr": 0.001})
    pts = [MetricPoint(key="loss", value=1.0 / (s + 1), step=s, timestamp=1000.0 + s) for s in range(5)]
    service.log_batch(ctx, run_id=rid, batch=RunBatch(metrics=pts, params={"bs": 8}, tags={"stage": "sft"}))
    run = service.get_run(ctx, run_id=rid)
    assert run.params == {"lr": "0.001", "bs": "8"}
    assert run.tags == {"stage": "sft"}
    assert run.metrics["loss"] == pytest.approx(0.2)
    hist = service.metric_history(ctx, run_id=rid, key="loss")
    assert [p.step for p in hist] == [0, 1, 2, 3, 4]
    assert hist[0].timestamp == 1000.0


def test_nan_and_inf_round_trip(ctx: Any) -> None:
    rid = _run(ctx)
    vals = [float("nan"), float("inf"), float("-inf"), 1.5]
    pts = [MetricPoint(key="loss", value=v, step=i, timestamp=float(i)) for i, v in enumerate(vals)]
    service.log_batch(ctx, run_id=rid, batch=RunBatch(metrics=pts))
    back = [p.value for p in service.metric_history(ctx, run_id=rid, key="loss")]
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf and back[3] == 1.5


def test_latest_metric_is_highest_step_even_when_logged_out_of_order(ctx: Any) -> None:
    rid = _run(ctx)
    service.log_batch(
        ctx, run_id=rid, batch=RunBatch(metrics=[MetricPoint(key="acc", value=0.9, step=10, timestamp=1)])
    )
    service.log_batch(
        ctx, run_id=rid, batch=RunBatch(metrics=[MetricPoint(key="acc", value=0.1, step=2, timestamp=2)])
    )
    assert service.get_run(ctx, run_id=rid).metrics["acc"] == 0.9


def test_params_are_immutable(ctx: Any) -> None:
    rid = _run(ctx, params={"lr": 1})
    service.log_batch(ctx, run_id=rid, batch=RunBatch(params={"lr": 1}))  # same value is fine
    with pytest.raises(Conflict, match="lr"):
        service.log_batch(ctx, run_id=rid, batch=RunBatch(params={"lr": 2}))
    assert service.get_run(ctx, run_id=rid).params == {"lr": "1"}


def test_bad_input_leaves_store_unchanged(ctx: Any) -> None:
    rid = _run(ctx)
    with pytest.raises(InvalidInput, match="too long"):
        service.log_batch(
            ctx,
            run_id=rid,
            batch=RunBatch(
                params={"p": "x" * 9000}, metrics=[MetricPoint(key="m", value=1, step=0, timestamp=0)]
            ),
        )
    with pytest.raises(ValueError, match="number"):
        MetricPoint(key="m", value="abc", step=0, timestamp=0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="project"):
        service.create_run(ctx, spec=RunCreate(project="../etc"))
    run = service.get_run(ctx, run_id=rid)
    assert run.params == {} and run.metrics == {}


def test_ended_run_refuses_metrics(ctx: Any) -> None:
    rid = _run(ctx)
    service.end_run(ctx, run_id=rid, status="finished")
    with pytest.raises(Conflict, match="ended"):
        service.log_batch(
            ctx, run_id=rid, batch=RunBatch(metrics=[MetricPoint(key="m", value=1, step=0, timestamp=0)])
        )


def test_unknown_run_is_not_found(ctx: Any) -> None:
    with pytest.raises(NotFound):
        service.get_run(ctx, run_id="nope")


def test_nested_runs_and_search(ctx: Any) -> None:
    parent = _run(ctx, name="sweep", kind="sweep")
    for i, lr in enumerate([0.1, 0.01, 0.001]):
        child = _run(ctx, name=f"trial-{i}", parent_id=parent, params={"lr": lr})
        service.log_batch(
            ctx,
            run_id=child,
            batch=RunBatch(
                metrics=[MetricPoint(key="loss", value=lr * 10, step=0, timestamp=0)], end_status="finished"
            ),
        )
    page = service.search_runs(
        ctx, query=RunSearch(project="p", filter="metrics.loss < 0.5", order_by=["metrics.loss ASC"])
    )
    assert [r.name for r in page.items] == ["trial-2", "trial-1"]
    page = service.search_runs(
        ctx, query=RunSearch(project="p", filter="params.lr = '0.1' and status = 'finished'")
    )
    assert [r.name for r in page.items] == ["trial-0"]
    children = service.search_runs(ctx, query=RunSearch(project="p", parent_id=parent, limit=2))
    assert len(children.items) == 2 and children.next_page_token
    rest = service.search_runs(
        ctx, query=RunSearch(project="p", parent_id=parent, limit=2, page_token=children.next_page_token)
    )
    assert len(rest.items) == 1 and rest.next_page_token is None
    with pytest.raises(InvalidInput, match="cannot parse filter"):
        service.search_runs(ctx, query=RunSearch(filter="metrics.loss << 1"))
    with pytest.raises(InvalidInput, match="order"):
        service.search_runs(ctx, query=RunSearch(order_by=["metrics.loss SIDEWAYS"]))


def test_artifacts_are_content_addressed_and_verified(ctx: Any, tmp_path: Any) -> None:
    rid = _run(ctx)
    f = tmp_path / "model.bin"
    f.write_bytes(b"weights" * 1000)
    a = service.log_artifact(ctx, run_id=rid, path=f, name="ckpt/model.bin")
    b = service.log_artifact(ctx, run_id=rid, path=f, name="copy.bin")
    assert a.sha256 == b.sha256
    assert len(list(ctx.artifacts.iter_hashes())) == 1
    with pytest.raises(InvalidInput, match="inside its root"):
        service.log_artifact(ctx, run_id=rid, path=f, name="../../escape.bin")
    assert {x.path for x in service.get_run(ctx, run_id=rid).artifacts} == {"ckpt/model.bin", "copy.bin"}


def test_concurrent_first_writes_to_a_new_project(ctx: Any) -> None:
    """Threads racing to create the same project all succeed, and one project exists afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    from llmloop.store.projects import list_projects

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda i: _run(ctx, project="racy", name=f"r{i}"), range(8)))
    assert len(set(ids)) == 8
    with ctx.db.session() as s:
        assert list_projects(s).count("racy") == 1
