"""``/runs``: the runs table, one run's curves (a sweep's: its trials, with parallel coordinates), and
2 to 10 runs compared (overlaid curves, param diff)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query

from llmloop.errors import InvalidInput
from llmloop.server.ui.charts import parallel
from llmloop.server.ui.render import View, page
from llmloop.services.tracking.schemas import MetricPoint, Run, RunSearch

router = APIRouter()
PAGE = 50
MAX_CURVES = 12  # metric keys drawn per page; the JSON twin has them all by name


def curves(runs: list[Run], histories: dict[str, dict[str, list[MetricPoint]]]) -> list[dict[str, Any]]:
    """One uPlot chart per metric: x = every step any run logged, one series per run (gaps as null)."""
    keys = sorted({k for h in histories.values() for k in h})[:MAX_CURVES]
    charts = []
    for key in keys:
        steps = sorted({p.step for h in histories.values() for p in h.get(key, [])})
        series = []
        for r in runs:
            by_step = {p.step: p.value for p in histories[r.id].get(key, [])}
            series.append([by_step.get(s) for s in steps])
        charts.append({"title": key, "labels": [r.name or r.id[:8] for r in runs], "data": [steps, *series]})
    return charts


def _histories(view: View, runs: list[Run]) -> dict[str, dict[str, list[MetricPoint]]]:
    return {r.id: {k: view.client.runs.metric_history(r.id, k) for k in r.metrics} for r in runs}


@page(router, "/runs", "runs.html", "runs:read")
def runs(
    view: View, filter: str | None = None, order_by: str | None = None, page_token: str | None = None
) -> dict[str, Any]:
    """A page of runs (``filter`` in the search grammar, ``order_by`` e.g. ``metrics.loss ASC``)."""
    found = view.client.runs.list_runs(
        view.project,
        filter=filter or None,
        order_by=[order_by] if order_by else None,
        limit=PAGE,
        page_token=page_token,
    )
    params = sorted({k for r in found.items for k in r.params})[:8]
    metrics = sorted({k for r in found.items for k in r.metrics})[:8]
    return {
        "runs": found,
        "param_keys": params,
        "metric_keys": metrics,
        "filter": filter or "",
        "order_by": order_by or "",
    }


@page(router, "/runs/compare", "runs_compare.html", "runs:read")
def compare(view: View, ids: list[str] = Query(default_factory=list)) -> dict[str, Any]:
    """2 to 10 runs: curves overlaid, and the params that differ between them first (none chosen: a hint)."""
    if len(ids) > 10:
        raise InvalidInput(f"compare 2 to 10 runs, got {len(ids)}", details={"field": "ids"})
    chosen = [view.client.runs.get_run(i) for i in ids]
    keys = sorted({k for r in chosen for k in r.params})
    differ = [k for k in keys if len({r.params.get(k) for r in chosen}) > 1]
    return {
        "runs": chosen,
        "params_differ": differ,
        "params_same": [k for k in keys if k not in differ],
        "curves": curves(chosen, _histories(view, chosen)),
    }


def sweep_of(view: View, parent: Run) -> dict[str, Any] | None:
    """A sweep's trials (its child runs): each one's sampled params, state and objective value, the best
    one by the sweep's direction, and the axes of its parallel-coordinates chart."""
    if parent.kind != "sweep":
        return None
    direction, _, metric = str(parent.params.get("objective", "minimize loss")).partition(" ")
    children = view.client.runs.search_runs(
        RunSearch(project=parent.project, parent_id=parent.id, limit=1000)
    ).items
    trials = []
    for child in children:
        sampled = json.loads(child.tags.get("trial_params") or "{}")
        trials.append({
            "run": child, "label": child.tags.get("trial", child.name), "state": child.tags.get("trial_state", child.status),
            "params": sampled, "value": child.metrics.get(metric),
        })  # fmt: skip
    scored = [i for i, t in enumerate(trials) if t["value"] is not None]
    pick = min if direction == "minimize" else max
    best = pick(scored, key=lambda i: trials[i]["value"]) if scored else None
    keys = sorted({k for t in trials for k, v in t["params"].items() if isinstance(v, (int, float))})
    return {"metric": metric, "direction": direction, "trials": trials, "best": best, "axes": keys}


def _sweep_chart(data: dict[str, Any]) -> dict[str, Any]:
    sweep = data.get("sweep")
    if not sweep:
        return {}
    rows = [
        {**{k: float(v) for k, v in t["params"].items() if k in sweep["axes"]}, **({sweep["metric"]: t["value"]} if t["value"] is not None else {})}
        for t in sweep["trials"]
    ]  # fmt: skip
    title = f"trials: params and {sweep['metric']} ({sweep['direction']})"
    return {"sweep_svg": parallel(rows, [*sweep["axes"], sweep["metric"]], title=title, best=sweep["best"])}


@page(router, "/runs/{run_id}", "run.html", "runs:read", extras=_sweep_chart)
def run(view: View, run_id: str) -> dict[str, Any]:
    found = view.client.runs.get_run(run_id)
    return {
        "run": found,
        "curves": curves([found], _histories(view, [found])),
        "sweep": sweep_of(view, found),
    }
