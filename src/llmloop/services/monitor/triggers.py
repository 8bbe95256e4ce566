"""Triggers: when to start the next turn of the loop, under a budget and a cool-down.

A policy's ``when`` is a tree of conditions modelled on modyn's triggers (eth-easl/modyn): time
since the last start (``every_s``), data amount (``new_feedback`` since the last start), data drift
(a drift monitor's latest result drifted), a score drop (a metric monitor's latest value under a
floor), and ensembles (``any``, ``all``). A trigger whose condition holds starts its pipeline only
when the cool-down since its last start has passed and the budget (``max_starts`` per ``period_s``)
has room; otherwise it waits and says which guard held it.

Starting runs the pipeline file through the pipelines service (``set_pipeline_starter`` replaces
that runner, e.g. in tests); a start that fails is recorded as failed. A failed start changes nothing else: the champion is whatever the pipeline's own gate
left it (a pipeline that fails before its gate moves no alias). ``evaluate(dry_run=True)`` says what
would happen and why, and writes nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from llmloop.errors import NotFound
from llmloop.security import audit
from llmloop.services.monitor.schemas import Reason, Trigger, TriggerCondition, TriggerCreate, TriggerDecision
from llmloop.store.projects import project_id
from llmloop.store.tables.deployments import FeedbackRow
from llmloop.store.tables.monitoring import MonitorRow, TriggerEventRow, TriggerRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from llmloop.context import Context

# (ctx, pipeline file, trigger name) -> what was started (a run id), or raises
PipelineStarter = Callable[["Context", str, str], str]
_starter: PipelineStarter | None = None
_starter_lock = threading.Lock()


def set_pipeline_starter(starter: PipelineStarter | None) -> PipelineStarter | None:
    """Register the function that starts a pipeline file; returns the one it replaces."""
    global _starter
    with _starter_lock:
        before, _starter = _starter, starter
    return before


def _trigger(row: TriggerRow, project: str, last: float | None) -> Trigger:
    return Trigger(
        **{**row.spec, "project": project}, id=row.id, created_at=row.created_at, last_started_at=last
    )


def _last_start(s: Session, trigger_id: str) -> float | None:
    q = select(func.max(TriggerEventRow.at)).where(
        TriggerEventRow.trigger_id == trigger_id, TriggerEventRow.started
    )
    return s.scalar(q)


def put_trigger(s: Session, ctx: Context, spec: TriggerCreate) -> Trigger:
    pid = project_id(s, spec.project, create=True)
    body = spec.model_dump(mode="json", exclude={"project"}, exclude_none=True)
    row = s.scalar(select(TriggerRow).where(TriggerRow.project_id == pid, TriggerRow.name == spec.name))
    before = None
    if row is None:
        row = TriggerRow(
            id=uuid.uuid4().hex, project_id=pid, name=spec.name, spec=body, created_by=ctx.actor.id
        )
        s.add(row)
    else:
        before, row.spec = dict(row.spec), body
    s.flush()
    audit.record(s, ctx, "triggers.put", f"trigger:{spec.project}/{spec.name}", before=before, after=body,
                 project=spec.project)  # fmt: skip
    return _trigger(row, spec.project, _last_start(s, row.id))


def create_trigger(ctx: Context, *, spec: TriggerCreate) -> Trigger:
    ctx.require("triggers:write", spec.project)
    with ctx.db.session() as s:
        return put_trigger(s, ctx, spec)


def list_triggers(ctx: Context, *, project: str) -> list[Trigger]:
    ctx.require("monitors:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        rows = list(
            s.scalars(select(TriggerRow).where(TriggerRow.project_id == pid).order_by(TriggerRow.name))
        )
        return [_trigger(r, project, _last_start(s, r.id)) for r in rows]


def _check(s: Session, pid: str, cond: TriggerCondition, since: float | None, at: float) -> Reason:
    """Whether one condition (or ensemble) holds at ``at``, and why, in words."""
    from llmloop.services.monitor.service import latest_result

    if cond.every_s is not None:
        if since is None:
            return Reason(condition=f"every {cond.every_s:g}s", holds=True, why="never started")
        age = at - since
        return Reason(condition=f"every {cond.every_s:g}s", holds=age >= cond.every_s,
                      why=f"{age:.0f}s since the last start")  # fmt: skip
    if cond.new_feedback is not None:
        q = (
            select(func.count())
            .select_from(FeedbackRow)
            .where(FeedbackRow.project_id == pid, FeedbackRow.created_at < at)
        )
        if since is not None:
            q = q.where(FeedbackRow.created_at >= since)
        n = int(s.scalar(q) or 0)
        return Reason(condition=f"{cond.new_feedback} new feedback", holds=n >= cond.new_feedback,
                      why=f"{n} feedback since the last start")  # fmt: skip
    if cond.drift is not None or cond.score_drop is not None:
        name = cond.drift if cond.drift is not None else cond.score_drop.monitor  # type: ignore[union-attr]
        label = f"drift on {name}" if cond.drift is not None else f"{name} below {cond.score_drop.below:g}"  # type: ignore[union-attr]
        monitor = s.scalar(select(MonitorRow).where(MonitorRow.project_id == pid, MonitorRow.name == name))
        if monitor is None:
            return Reason(condition=label, holds=False, why=f"no monitor {name!r}")
        last = latest_result(s, monitor.id)
        if last is None or last.status != "ok":
            return Reason(condition=label, holds=False, why="no result yet" if last is None else last.message)
        if cond.drift is not None:
            if last.drift is None:
                return Reason(condition=label, holds=False, why=f"monitor {name!r} tests no drift")
            d = last.drift
            return Reason(
                condition=label, holds=d.drifted, why=f"p={d.p_value:.3g} vs alpha={d.alpha:.3g} ({d.method})"
            )
        assert cond.score_drop is not None and last.value is not None
        return Reason(
            condition=label, holds=last.value < cond.score_drop.below, why=f"latest value {last.value:.4g}"
        )
    parts = [_check(s, pid, c, since, at) for c in (cond.any or cond.all or [])]
    combine = any if cond.any is not None else all
    word = "any" if cond.any is not None else "all"
    held = [p.condition for p in parts if p.holds]
    return Reason(condition=f"{word} of {len(parts)}", holds=combine(p.holds for p in parts),
                  why="; ".join(f"{p.condition}: {'yes' if p.holds else 'no'} ({p.why})" for p in parts) or str(held))  # fmt: skip


def evaluate(
    ctx: Context, *, project: str, name: str, dry_run: bool, now: float | None = None
) -> TriggerDecision:
    """Decide (and unless ``dry_run``, act): start the pipeline, or wait, with the reasons either way."""
    ctx.require("monitors:read" if dry_run else "triggers:write", project)
    at = time.time() if now is None else now
    with ctx.db.session() as s:
        pid = project_id(s, project)
        row = s.scalar(select(TriggerRow).where(TriggerRow.project_id == pid, TriggerRow.name == name))
        if row is None:
            raise NotFound(f"trigger {name!r} not found in {project!r}", details={"trigger": name})
        spec = TriggerCreate.model_validate({**row.spec, "project": project})
        last = _last_start(s, row.id)
        reason = _check(s, pid, spec.when, last, at)
        blocked = []
        if last is not None and at - last < spec.cooldown_s:
            blocked.append(f"cool-down: {at - last:.0f}s since the last start, {spec.cooldown_s:g}s required")
        starts = s.scalar(
            select(func.count()).select_from(TriggerEventRow).where(
                TriggerEventRow.trigger_id == row.id, TriggerEventRow.started,
                TriggerEventRow.at > at - spec.budget.period_s,
            )
        )  # fmt: skip
        if int(starts or 0) >= spec.budget.max_starts:
            blocked.append(
                f"budget: {starts} of {spec.budget.max_starts} starts used in the last {spec.budget.period_s:g}s"
            )
        action = "start" if reason.holds and not blocked else "wait"
        decision = TriggerDecision(
            trigger=name, project=project, at=at, action=action, reasons=[reason], blocked_by=blocked,
            pipeline=spec.pipeline, dry_run=dry_run,
            outcome=f"would start {spec.pipeline}" if dry_run and action == "start" else "",
        )  # fmt: skip
        trigger_id = row.id
    if dry_run or action == "wait":
        return decision
    started, outcome = _start(ctx, spec.pipeline, name)
    decision = decision.model_copy(update={"outcome": outcome})
    with ctx.db.session() as s:
        s.add(
            TriggerEventRow(
                trigger_id=trigger_id, at=at, started=started, decision=decision.model_dump(mode="json")
            )
        )
        s.flush()
        audit.record(s, ctx, "triggers.fire", f"trigger:{project}/{name}", after={"started": started, "outcome": outcome},
                     project=project)  # fmt: skip
    return decision


def _start(ctx: Context, pipeline: str, name: str) -> tuple[bool, str]:
    with _starter_lock:
        starter = _starter
    if starter is None:  # the pipelines service runs the file unless a process registered another runner
        from llmloop.services.pipelines.jobs import start_triggered_pipeline

        starter = start_triggered_pipeline
    try:
        return True, f"started {pipeline}: {starter(ctx, pipeline, name)}"
    except Exception as e:  # a failed start is the trigger's result, recorded, not the pass's crash
        return False, f"failed to start {pipeline}: {type(e).__name__}: {e}"
