"""Monitors: define them, run them over their sliding windows, read their results.

``run_monitors`` is a plain function a scheduled job calls (the product has one scheduler, shared
with pipeline schedules; this module builds none) and ``llmloop monitor run`` calls once. Each pass
measures every monitor over ``[now - window_s, now)``, stores the result, applies the monitor's alert
rules (``alerts.evaluate``) in the same transaction, and only after the commit hands the webhook
deliveries to the background notifier, so a slow or dead receiver never holds a transaction or a
request.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from llmloop.errors import InvalidInput, LlmloopError, NotFound
from llmloop.security import audit
from llmloop.services.monitor import alerts, drift, epoch, windows
from llmloop.services.monitor.budget import budget
from llmloop.services.monitor.schemas import (
    Alert,
    AlertRuleCreate,
    Applied,
    DriftRequest,
    DriftResult,
    Monitor,
    MonitorCreate,
    MonitoringConfig,
    MonitorResult,
    MonitorRun,
    OnlineEvaluatorCreate,
    TriggerCreate,
    Window,
)
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now as wall_clock
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.monitoring import MonitorResultRow, MonitorRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from llmloop.context import Context
    from llmloop.services.monitor.notify import Delivery


def _monitor(row: MonitorRow, project: str) -> Monitor:
    return Monitor(
        **{**row.spec, "project": project},
        id=row.id,
        kind="drift" if row.spec.get("drift") else "metric",
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
    )


def put_monitor(s: Session, ctx: Context, spec: MonitorCreate) -> Monitor:
    """Create monitor ``spec.name`` or replace its definition (its results are kept)."""
    pid = project_id(s, spec.project, create=True)
    body = spec.model_dump(mode="json", exclude={"project"})
    row = s.scalar(select(MonitorRow).where(MonitorRow.project_id == pid, MonitorRow.name == spec.name))
    before = None
    if row is None:
        row = MonitorRow(
            id=uuid.uuid4().hex, project_id=pid, name=spec.name, spec=body, created_by=ctx.actor.id
        )
        s.add(row)
    else:
        before = dict(row.spec)
        row.spec, row.updated_at = body, wall_clock()
    s.flush()
    audit.record(s, ctx, "monitors.put", f"monitor:{spec.project}/{spec.name}", before=before, after=body,
                 project=spec.project)  # fmt: skip
    return _monitor(row, spec.project)


def create_monitor(ctx: Context, *, spec: MonitorCreate) -> Monitor:
    ctx.require("monitors:write", spec.project)
    with ctx.db.session() as s:
        return put_monitor(s, ctx, spec)


def apply_config(ctx: Context, *, config: MonitoringConfig) -> Applied:
    """Every monitor, rule, trigger and online evaluator of one file, in one transaction: all of it
    lands or none."""
    from llmloop.services.monitor import online, triggers

    named: list[MonitorCreate | AlertRuleCreate | TriggerCreate | OnlineEvaluatorCreate] = [
        *config.monitors,
        *config.alerts,
        *config.triggers,
        *config.online,
    ]
    for project in sorted({x.project for x in named}):
        ctx.require("monitors:write", project)
    if config.triggers:
        for project in sorted({t.project for t in config.triggers}):
            ctx.require("triggers:write", project)
    for i, o in enumerate(config.online):
        online.check(ctx, o, key=f"online[{i}].")
    with ctx.db.session() as s:
        done = Applied(
            monitors=[put_monitor(s, ctx, m).name for m in config.monitors],
            alerts=[alerts.put_rule(s, ctx, a).name for a in config.alerts],
            triggers=[triggers.put_trigger(s, ctx, t).name for t in config.triggers],
            online=[online.put_evaluator(s, ctx, o).name for o in config.online],
        )
    return done


def list_monitors(ctx: Context, *, project: str) -> list[Monitor]:
    ctx.require("monitors:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        rows = s.scalars(select(MonitorRow).where(MonitorRow.project_id == pid).order_by(MonitorRow.name))
        return [_monitor(r, project) for r in rows]


def find_monitor(s: Session, ctx: Context, project: str, name: str) -> MonitorRow:
    ctx.require("monitors:read", project)
    pid = project_id(s, project)
    row = s.scalar(select(MonitorRow).where(MonitorRow.project_id == pid, MonitorRow.name == name))
    if row is None:
        raise NotFound(f"monitor {name!r} not found in {project!r}", details={"monitor": name})
    return row


def list_results(ctx: Context, *, project: str, name: str, limit: int = 100) -> list[MonitorResult]:
    """A monitor's results, newest first."""
    with ctx.db.session() as s:
        row = find_monitor(s, ctx, project, name)
        q = (
            select(MonitorResultRow.result)
            .where(MonitorResultRow.monitor_id == row.id)
            .order_by(MonitorResultRow.ran_at.desc(), MonitorResultRow.id.desc())
            .limit(limit)
        )
        return [MonitorResult.model_validate(r) for r in s.scalars(q)]


def latest_result(s: Session, monitor_id: str) -> MonitorResult | None:
    q = (
        select(MonitorResultRow.result)
        .where(MonitorResultRow.monitor_id == monitor_id)
        .order_by(MonitorResultRow.ran_at.desc(), MonitorResultRow.id.desc())
        .limit(1)
    )
    got = s.scalar(q)
    return None if got is None else MonitorResult.model_validate(got)


# ---- measuring -----------------------------------------------------------------------------------


def _reference_texts(
    ctx: Context, s: Session, project: str, pid: str, spec: dict[str, Any]
) -> tuple[list[str], Window | None]:
    ref = spec["drift"]["reference"]
    field = spec["drift"]["field"]
    if ref.get("dataset"):
        return _dataset_texts(ctx, project, ref["dataset"], ref.get("column", "input")), None
    window = Window(start=ref["start"], end=ref["end"])
    reqs = windows.requests(s, project_id=pid, start=window.start, end=window.end, model=spec.get("model"),
                            deployment=spec.get("deployment"))  # fmt: skip
    return [t for t in (_text(r, field) for r in reqs) if t], window


def _dataset_texts(ctx: Context, project: str, ref: str, column: str) -> list[str]:
    from llmloop.services.data import versions

    version = versions.get_version(ctx, ref=ref, project=project)
    table = versions.read_table(ctx, version)
    if column not in table.column_names:
        raise InvalidInput(
            f"dataset {ref} has no column {column!r} (columns: {', '.join(table.column_names)})",
            details={"key": "drift.reference.column", "column": column},
        )
    out = []
    for value in table.column(column).to_pylist():
        text = value if isinstance(value, str) else windows.last_user_text(value)
        if text:
            out.append(text)
    return out


def _text(r: windows.Request, field: str) -> str:
    return r.input_text if field == "input" else r.output_text


def measure(
    ctx: Context, s: Session, row: MonitorRow, project: str, at: float, *, generation: int | None = None
) -> MonitorResult:
    """One monitor over the window ending at ``at``; ``generation``: the store's ``epoch`` read before
    this reads the window (what the drift caches may serve and store)."""
    spec = row.spec
    window = Window(start=at - float(spec["window_s"]), end=at)
    reqs = windows.requests(s, project_id=row.project_id, start=window.start, end=window.end,
                            model=spec.get("model"), deployment=spec.get("deployment"))  # fmt: skip
    base = {"monitor": row.name, "project": project, "ran_at": at, "window": window}
    if spec.get("metric"):
        got = windows.measure(s, spec["metric"], reqs)
        if got.value is None:
            what = (
                "feedback"
                if spec["metric"] in ("feedback_score", "thumbs_down_rate")
                else f"online scores {spec['metric'].removeprefix('online:')!r}"
                if spec["metric"].startswith("online:")
                else "traces to measure"
            )
            return MonitorResult(
                **base, status="empty", message=f"the window holds no {what} ({len(reqs)} traces)"
            )
        return MonitorResult(**base, status="ok", value=got.value, trace_ids=got.trace_ids)
    settings = spec["drift"]
    pairs = [(t, r.trace_id) for r in reqs if (t := _text(r, settings["field"]))]
    if len(pairs) < settings["min_samples"]:
        return MonitorResult(
            **base,
            status="empty",
            message=f"the window holds {len(pairs)} texts; this monitor tests {settings['min_samples']} or more",
        )
    reference, ref_window = _reference_texts(ctx, s, project, row.project_id, spec)
    if len(reference) < settings["min_samples"]:
        return MonitorResult(
            **base,
            status="empty",
            message=f"the reference holds {len(reference)} texts; this monitor needs {settings['min_samples']}",
        )
    level = budget(
        false_alarms_per_day=settings["false_alarms_per_day"], interval_s=float(spec["interval_s"])
    )
    result = drift.detect(
        ctx,
        reference=reference,
        current=[t for t, _ in pairs],
        trace_ids=[i for _, i in pairs],
        method=settings["method"],
        alpha=level.alpha,
        max_samples=settings["max_samples"],
        reference_window=ref_window,
        current_window=window,
        generation=generation,
    )
    return MonitorResult(
        **base,
        status="ok",
        value=result.p_value,
        drift=result,
        message=level.describe(),
        trace_ids=[e.trace_id for e in result.examples if e.trace_id],
    )


def run_monitors(
    ctx: Context, *, project: str | None = None, monitor: str | None = None, now: float | None = None
) -> MonitorRun:
    """Run every monitor (of ``project``; only ``monitor``) once over the window ending ``now``."""
    from llmloop.services.monitor.notify import notifier

    at = time.time() if now is None else now
    results: list[MonitorResult] = []
    fired: list[Alert] = []
    resolved: list[Alert] = []
    jobs: list[Delivery] = []
    with ctx.db.session() as s:
        names = {pid: name for pid, name in s.execute(select(ProjectRow.id, ProjectRow.name))}
        q = select(MonitorRow).order_by(MonitorRow.project_id, MonitorRow.name)
        if project is not None:
            ctx.require("monitors:run", project)
            q = q.where(MonitorRow.project_id == project_id(s, project))
        if monitor is not None:
            q = q.where(MonitorRow.name == monitor)
        rows = [r for r in s.scalars(q) if ctx.actor.can("monitors:run", names[r.project_id])]
        if monitor is not None and not rows:
            raise NotFound(f"monitor {monitor!r} not found", details={"monitor": monitor})
    for row in rows:  # one transaction per monitor: one failing store write loses one result, not the pass
        done = _measure_and_store(ctx, row.id, names[row.project_id], at)
        if done is None:  # deleted meanwhile
            continue
        result, up, down, todo = done
        results.append(result)
        fired += up
        resolved += down
        jobs += todo
    for job in jobs:
        notifier().submit(job)
    return MonitorRun(results=results, fired=fired, resolved=resolved)


_ATTEMPTS = 3  # erasures committing during a measurement, in a row, before the pass gives this monitor up


def _measure_and_store(
    ctx: Context, monitor_id: str, project: str, at: float
) -> tuple[MonitorResult, list[Alert], list[Alert], list[Delivery]] | None:
    """Measure one monitor and store its result and alerts in one transaction, or measure it again when
    an erasure or purge committed meanwhile (what was measured may quote the traces it removed)."""
    for attempt in range(1, _ATTEMPTS + 1):
        with ctx.db.session() as s:
            generation = epoch.current(ctx)  # before the window is read
            live = s.get(MonitorRow, monitor_id)
            if live is None:
                return None
            window = Window(start=at - float(live.spec["window_s"]), end=at)
            try:
                result = measure(ctx, s, live, project, at, generation=generation)
            except LlmloopError as e:  # one broken monitor must not stop the pass
                result = MonitorResult(monitor=live.name, project=project, ran_at=at, status="error",
                                       message=e.message, window=window)  # fmt: skip
            if not epoch.hold(s, generation):
                if attempt < _ATTEMPTS:
                    continue  # drop it: nothing derived from the window was written yet
                result = MonitorResult(
                    monitor=live.name, project=project, ran_at=at, status="error", window=window,
                    message=f"erasures or purges changed the traces during each of {_ATTEMPTS} "
                    "measurements of this window; the next pass measures again",
                )  # fmt: skip
            return _store_result(s, ctx, live, result)
    raise AssertionError("unreachable: the last attempt stores a result")


def _store_result(
    s: Session, ctx: Context, live: MonitorRow, result: MonitorResult
) -> tuple[MonitorResult, list[Alert], list[Alert], list[Delivery]]:
    s.add(MonitorResultRow(
        monitor_id=live.id, ran_at=result.ran_at, window_start=result.window.start, window_end=result.window.end,
        status=result.status, value=result.value, p_value=result.drift.p_value if result.drift else None,
        result=result.model_dump(mode="json"),
    ))  # fmt: skip
    up, down, todo = alerts.evaluate(s, ctx, live, result)
    return result, up, down, todo


def detect_drift(ctx: Context, *, request: DriftRequest) -> DriftResult:
    """``ll.monitoring.drift``: two samples in, the result out; embeddings are cached in this store."""
    return drift.detect(
        ctx,
        reference=request.reference,
        current=request.current,
        method=request.method,
        alpha=request.alpha,
        permutations=request.permutations,
        seed=request.seed,
    )
