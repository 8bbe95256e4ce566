"""Buffered metric logging loses nothing, checks its input cheaply, and reports background failures.

Runs on SQLite and PostgreSQL (the ``ctx`` fixture points the SDK at each store).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

import llmloop as ll
from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.services.tracking import service
from llmloop.services.tracking.buffer import MetricBuffer
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate


def _eventually(check: Any, timeout: float = 20.0) -> None:
    """Poll ``check`` until it holds: liveness, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def test_ten_thousand_buffered_calls_all_land_after_the_run_ends(ctx: Any) -> None:
    n = 10_000
    with ll.start_run(project="buf", name="many") as run:
        for i in range(n):
            run.log_metric("loss", 1.0 / (i + 1))  # step defaults to 0, 1, 2, ...
            if i % 1000 == 0:
                run.log_metric("lr", 0.1 * i, step=i)
    got = ll.get_run(run.id)
    assert got.status == "finished"
    hist = got.metric_history("loss")
    assert [(p.step, p.value) for p in hist] == [(i, 1.0 / (i + 1)) for i in range(n)]
    assert [p.step for p in got.metric_history("lr")] == list(range(0, n, 1000))
    assert got.metrics == {"loss": 1.0 / n, "lr": 0.1 * 9000}


def test_nan_inf_numpy_and_string_values_are_stored_faithfully(ctx: Any) -> None:
    with ll.start_run(project="buf") as run:
        for v in [
            float("nan"),
            float("inf"),
            float("-inf"),
            "NaN",
            "-Infinity",
            3,
            np.float32(0.5),
            np.int64(7),
        ]:
            run.log_metric("v", v)  # type: ignore[arg-type]
        run.log_metric("steps", 1.0, step=np.int64(5))  # type: ignore[arg-type]
    back = [p.value for p in ll.get_run(run.id).metric_history("v")]
    assert math.isnan(back[0]) and back[1:3] == [math.inf, -math.inf]
    assert math.isnan(back[3]) and back[4:] == [-math.inf, 3.0, 0.5, 7.0]
    assert [p.step for p in ll.get_run(run.id).metric_history("steps")] == [5]


@pytest.mark.parametrize(
    ("key", "value", "step", "match"),
    [
        ("m", "abc", None, "must be a number"),
        ("m", True, None, "must be a number"),
        ("m", None, None, "must be a number"),
        ("m", [1.0], None, "must be a number"),
        ("m", 1.0, -1, "step"),
        ("m", 1.0, 1.5, "step"),
        ("m", 1.0, True, "step"),
        ("", 1.0, None, "invalid metric key"),
        ("a\nb", 1.0, None, "invalid metric key"),
    ],
)
def test_bad_metric_input_is_refused_at_the_call_and_nothing_is_logged(
    ctx: Any, key: str, value: Any, step: Any, match: str
) -> None:
    with ll.start_run(project="buf") as run:
        with pytest.raises(InvalidInput, match=match):
            run.log_metric(key, value, step=step)
        run.log_metric("ok", 1.0)
    got = ll.get_run(run.id)
    assert got.metrics == {"ok": 1.0} and got.status == "finished"


def test_background_thread_flushes_without_being_asked(ctx: Any) -> None:
    """The conftest sets a 0.2 s flush interval; points show up while the run is still open."""
    run = ll.start_run(project="buf", name="open")
    run.log_metric("loss", 0.5, step=0)
    _eventually(lambda: service.get_run(ctx, run_id=run.id).metrics.get("loss") == 0.5)
    assert service.get_run(ctx, run_id=run.id).status == "running"
    run.end()
    assert service.get_run(ctx, run_id=run.id).status == "finished"


def test_a_full_buffer_is_written_before_the_interval(ctx: Any) -> None:
    rid = service.create_run(ctx, spec=RunCreate(project="buf")).id
    buf = MetricBuffer(lambda b: service.log_batch(ctx, run_id=rid, batch=b), interval_s=3600, max_points=100)
    for i in range(250):
        buf.add_point(("m", float(i), i, 1.0))
    _eventually(lambda: len(service.metric_history(ctx, run_id=rid, key="m")) >= 200)
    buf.close(end_status="finished")
    assert [p.step for p in service.metric_history(ctx, run_id=rid, key="m")] == list(range(250))


def test_a_background_failure_is_raised_on_the_next_flush(ctx: Any) -> None:
    run = ll.start_run(project="buf")
    service.end_run(ctx, run_id=run.id, status="failed")  # ended behind the SDK's back
    run.log_metric("late", 1.0)
    _eventually(lambda: run._buffer._error is not None)  # the flush thread tried and failed
    with pytest.raises(Conflict, match="has ended"):
        run.end()
    assert service.get_run(ctx, run_id=run.id).metrics == {}


def test_many_short_runs_each_end_with_their_metrics(ctx: Any) -> None:
    ids = []
    for i in range(40):
        with ll.start_run(project="sweep", name=f"t{i}", params={"i": i}) as run:
            run.log_params({"lr": 0.1 * i})
            run.log_metrics({"loss": 1.0 / (i + 1), "acc": i / 40}, step=0)
        ids.append(run.id)
    runs = {r.id: r for r in ll.search_runs(project="sweep", limit=100)}
    assert set(runs) == set(ids)
    for i, rid in enumerate(ids):
        assert runs[rid].status == "finished"
        assert runs[rid].metrics == {"loss": 1.0 / (i + 1), "acc": i / 40}
        assert runs[rid].params == {"i": str(i), "lr": str(0.1 * i)}


def test_compact_points_and_objects_write_the_same_series(ctx: Any) -> None:
    rid = service.create_run(ctx, spec=RunCreate(project="buf")).id
    batch = RunBatch(
        points=[("m", 0.25, 0, 10.0), ("m", "NaN", 1, 11.0), ("m", "Infinity", 2, 12.0)],
        metrics=[MetricPoint(key="m", value=-1.0, step=3, timestamp=13.0)],
    )
    service.log_batch(ctx, run_id=rid, batch=batch)
    hist = service.metric_history(ctx, run_id=rid, key="m")
    assert [p.step for p in hist] == [0, 1, 2, 3]
    assert hist[0].value == 0.25 and math.isnan(hist[1].value) and hist[2].value == math.inf
    assert service.get_run(ctx, run_id=rid).metrics == {"m": -1.0}


def test_log_batch_on_a_run_it_has_never_seen(ctx: Any) -> None:
    """The run-to-project lookup is remembered per process; a cold lookup and an unknown run still work."""
    rid = service.create_run(ctx, spec=RunCreate(project="buf")).id
    ctx.db.memo.clear()
    service.log_batch(ctx, run_id=rid, batch=RunBatch(points=[("m", 1.0, 0, 1.0)], end_status="finished"))
    assert service.get_run(ctx, run_id=rid).status == "finished"
    with pytest.raises(NotFound):
        service.log_batch(ctx, run_id="no-such-run", batch=RunBatch(points=[("m", 1.0, 0, 1.0)]))
    with pytest.raises(Conflict, match="has ended"):
        service.log_batch(ctx, run_id=rid, batch=RunBatch(points=[("m", 2.0, 1, 2.0)]))
    service.log_batch(ctx, run_id=rid, batch=RunBatch(tags={"note": "tags are fine after the end"}))
    assert service.get_run(ctx, run_id=rid).tags == {"note": "tags are fine after the end"}


def test_api_takes_compact_points_and_refuses_non_numbers(api: Any) -> None:
    rid = api.post("/api/v1/runs", json={"project": "buf"}).json()["id"]
    ok = api.post(
        f"/api/v1/runs/{rid}/batch", json={"points": [["m", 1.5, 0, 1.0], ["m", "-Infinity", 1, 2.0]]}
    )
    assert ok.status_code == 204
    for bad in (["m", True, 2, 3.0], ["m", "1.5", 2, 3.0], ["m", 1.0, -1, 3.0], ["", 1.0, 2, 3.0]):
        r = api.post(f"/api/v1/runs/{rid}/batch", json={"points": [bad]})
        assert r.status_code == 400, bad
        assert r.json()["error"]["code"] == "invalid_input"
    items = api.get(f"/api/v1/runs/{rid}/metrics/m").json()["items"]
    assert [(p["step"], p["value"]) for p in items] == [(0, 1.5), (1, "-Infinity")]


def test_a_changed_param_refuses_the_whole_batch(ctx: Any) -> None:
    rid = service.create_run(ctx, spec=RunCreate(project="buf", params={"lr": 0.1})).id
    service.log_batch(ctx, run_id=rid, batch=RunBatch(params={"lr": 0.1, "bs": 8}))  # same value again: fine
    with pytest.raises(Conflict, match="'lr' was already logged"):
        service.log_batch(
            ctx, run_id=rid, batch=RunBatch(params={"new": 1, "lr": 0.2}, points=[("m", 1.0, 0, 1.0)])
        )
    run = service.get_run(ctx, run_id=rid)
    assert run.params == {"lr": "0.1", "bs": "8"} and run.metrics == {}
