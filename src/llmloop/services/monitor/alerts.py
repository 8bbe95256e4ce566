"""Alert rules and the alerts they raise: fire once when a condition has held ``for_s``, resolve when it clears.

Each rule keeps ``pending_since``, the time its condition was first seen true in an unbroken run of
monitor results. A result that meets the condition starts (or continues) the run; once the run is
``for_s`` old and no alert of the rule is open, one alert fires and its notifications are queued. A
result that does not meet it ends the run and resolves the open alert. A result with an empty window
changes nothing: too little traffic is no evidence either way. So an alert fires once per episode,
not on every tick. A silenced rule still records its alerts (``silenced``) but sends nothing.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from llmloop.errors import InvalidInput, NotFound
from llmloop.security import audit
from llmloop.services.monitor import notify
from llmloop.services.monitor.schemas import Alert, AlertRule, AlertRuleCreate, MonitorResult, Notification
from llmloop.store.projects import project_id, project_name
from llmloop.store.tables.base import now
from llmloop.store.tables.monitoring import AlertNotificationRow, AlertRow, AlertRuleRow, MonitorRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from llmloop.context import Context


def rule_schema(row: AlertRuleRow, project: str) -> AlertRule:
    spec = dict(row.spec)
    spec["webhooks"] = [{**w, "url": notify.public_target(w["url"])} for w in spec.get("webhooks", [])]
    return AlertRule(
        **{**spec, "project": project},
        id=row.id,
        silenced_until=row.silenced_until,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def put_rule(s: Session, ctx: Context, spec: AlertRuleCreate) -> AlertRule:
    """Create rule ``spec.name`` or replace its condition (an open alert stays open until it clears)."""
    pid = project_id(s, spec.project, create=True)
    monitor = s.scalar(
        select(MonitorRow).where(MonitorRow.project_id == pid, MonitorRow.name == spec.monitor)
    )
    if monitor is None:
        raise InvalidInput(
            f"alert rule {spec.name!r} watches monitor {spec.monitor!r}, which does not exist in {spec.project!r}",
            details={"field": "monitor", "monitor": spec.monitor},
        )
    drift = monitor.spec.get("drift") is not None
    if drift and (spec.above is not None or spec.below is not None):
        raise InvalidInput(
            f"monitor {spec.monitor!r} tests drift: its rules use drifted or p_value_below",
            details={"field": "above" if spec.above is not None else "below"},
        )
    if not drift and (spec.drifted or spec.p_value_below is not None):
        raise InvalidInput(
            f"monitor {spec.monitor!r} measures {monitor.spec.get('metric')}: its rules use above or below",
            details={"field": "drifted" if spec.drifted else "p_value_below"},
        )
    body = spec.model_dump(mode="json", exclude={"project"})
    row = s.scalar(select(AlertRuleRow).where(AlertRuleRow.project_id == pid, AlertRuleRow.name == spec.name))
    before = None
    if row is None:
        row = AlertRuleRow(
            id=uuid.uuid4().hex, project_id=pid, name=spec.name, monitor_id=monitor.id, spec=body,
            created_at=now(), created_by=ctx.actor.id,
        )  # fmt: skip
        s.add(row)
    else:
        before = {"monitor": row.monitor_id}
        row.spec, row.monitor_id, row.pending_since = body, monitor.id, None
    s.flush()
    audit.record(s, ctx, "alerts.put_rule", f"alert_rule:{spec.project}/{spec.name}", before=before,
                 after={"monitor": spec.monitor, "severity": spec.severity}, project=spec.project)  # fmt: skip
    return rule_schema(row, spec.project)


def create_rule(ctx: Context, *, spec: AlertRuleCreate) -> AlertRule:
    ctx.require("monitors:write", spec.project)
    with ctx.db.session() as s:
        return put_rule(s, ctx, spec)


def list_rules(ctx: Context, *, project: str) -> list[AlertRule]:
    ctx.require("monitors:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        rows = s.scalars(
            select(AlertRuleRow).where(AlertRuleRow.project_id == pid).order_by(AlertRuleRow.name)
        )
        return [rule_schema(r, project) for r in rows]


def _notifications(s: Session, alert_id: str) -> list[Notification]:
    rows = s.scalars(
        select(AlertNotificationRow)
        .where(AlertNotificationRow.alert_id == alert_id)
        .order_by(AlertNotificationRow.id)
    )
    return [
        Notification(
            id=r.id,
            event=r.event,
            target=r.target,
            format=r.format,
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
        )
        for r in rows
    ]


def alert_schema(
    s: Session, row: AlertRow, rule: AlertRuleRow, project: str, *, with_notes: bool = True
) -> Alert:
    return Alert(
        id=row.id,
        rule=rule.name,
        project=project,
        monitor=str(rule.spec.get("monitor", "")),
        severity=row.severity,
        status=row.status,
        message=row.message,
        value=row.value,
        trace_ids=list(row.trace_ids),
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        acked_at=row.acked_at,
        acked_by=row.acked_by,
        silenced=row.silenced,
        notifications=_notifications(s, row.id) if with_notes else [],
    )


def list_alerts(ctx: Context, *, project: str, status: str | None = None, limit: int = 200) -> list[Alert]:
    """Alerts newest first, each with its notifications' delivery state."""
    ctx.require("monitors:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        q = (
            select(AlertRow, AlertRuleRow)
            .join(AlertRuleRow, AlertRuleRow.id == AlertRow.rule_id)
            .where(AlertRow.project_id == pid)
            .order_by(AlertRow.fired_at.desc(), AlertRow.id)
            .limit(limit)
        )
        if status is not None:
            q = q.where(AlertRow.status == status)
        return [alert_schema(s, a, r, project) for a, r in s.execute(q)]


def _find_alert(s: Session, ctx: Context, alert_id: str) -> tuple[AlertRow, AlertRuleRow, str]:
    missing = NotFound(f"alert {alert_id!r} not found", details={"alert": alert_id})
    row = s.get(AlertRow, alert_id)
    if row is None:
        raise missing
    project = project_name(s, row.project_id)
    ctx.require("monitors:write", project, missing=missing)
    rule = s.get(AlertRuleRow, row.rule_id)
    assert rule is not None
    return row, rule, project


def ack_alert(ctx: Context, *, alert_id: str) -> Alert:
    """Record that someone is on it; acknowledging twice keeps the first acknowledgement."""
    with ctx.db.session() as s:
        row, rule, project = _find_alert(s, ctx, alert_id)
        if row.acked_at is None:
            row.acked_at, row.acked_by = now(), ctx.actor.id
            s.flush()
            audit.record(
                s, ctx, "alerts.ack", f"alert:{alert_id}", after={"rule": rule.name}, project=project
            )
        return alert_schema(s, row, rule, project)


def silence_rule(ctx: Context, *, project: str, name: str, for_s: float) -> AlertRule:
    """No notifications from rule ``name`` for ``for_s`` seconds (0 lifts the silence); alerts are still kept."""
    ctx.require("monitors:write", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        row = s.scalar(select(AlertRuleRow).where(AlertRuleRow.project_id == pid, AlertRuleRow.name == name))
        if row is None:
            raise NotFound(f"alert rule {name!r} not found in {project!r}", details={"rule": name})
        before = row.silenced_until
        row.silenced_until = now() + for_s if for_s > 0 else None
        s.flush()
        audit.record(s, ctx, "alerts.silence", f"alert_rule:{project}/{name}", before={"silenced_until": before},
                     after={"silenced_until": row.silenced_until}, project=project)  # fmt: skip
        return rule_schema(row, project)


def _holds(spec: dict[str, Any], result: MonitorResult) -> bool | None:
    """Whether ``result`` meets the rule's condition; None when it says nothing (an empty window)."""
    if result.status != "ok":
        return None
    if result.drift is not None:
        if spec.get("drifted"):
            return result.drift.drifted
        return result.drift.p_value < float(spec["p_value_below"])
    if result.value is None:
        return None
    if spec.get("above") is not None:
        return result.value > float(spec["above"])
    return result.value < float(spec["below"])


def _message(spec: dict[str, Any], result: MonitorResult) -> str:
    if result.drift is not None:
        d = result.drift
        return (
            f"{result.monitor}: drift ({d.method}) p={d.p_value:.3g} < alpha={d.alpha:.3g}, n={d.n_current}"
        )
    op, limit = (">", spec["above"]) if spec.get("above") is not None else ("<", spec["below"])
    return f"{result.monitor} = {result.value:.4g} {op} {limit:g}"


def evaluate(
    s: Session, ctx: Context, monitor: MonitorRow, result: MonitorResult
) -> tuple[list[Alert], list[Alert], list[notify.Delivery]]:
    """Apply ``result`` to every rule on ``monitor``: (fired, resolved, deliveries to submit after commit)."""
    fired: list[Alert] = []
    resolved: list[Alert] = []
    jobs: list[notify.Delivery] = []
    at = result.ran_at
    for rule in s.scalars(
        select(AlertRuleRow).where(AlertRuleRow.monitor_id == monitor.id).order_by(AlertRuleRow.name)
    ):
        holds = _holds(rule.spec, result)
        if holds is None:
            continue
        open_ = s.scalar(select(AlertRow).where(AlertRow.rule_id == rule.id, AlertRow.status == "firing"))
        silenced = rule.silenced_until is not None and rule.silenced_until > at
        webhooks = [] if silenced else _webhooks(rule.spec)
        if holds:
            rule.pending_since = rule.pending_since if rule.pending_since is not None else at
            if open_ is None and at - rule.pending_since >= float(rule.spec.get("for_s", 0.0)):
                ids = result.trace_ids or [
                    e.trace_id for e in (result.drift.examples if result.drift else []) if e.trace_id
                ]
                row = AlertRow(
                    id=uuid.uuid4().hex, rule_id=rule.id, project_id=monitor.project_id, status="firing",
                    severity=rule.spec.get("severity", "warning"), message=_message(rule.spec, result),
                    value=result.drift.p_value if result.drift else result.value, trace_ids=list(ids),
                    silenced=silenced, fired_at=at,
                )  # fmt: skip
                s.add(row)
                s.flush()
                alert = alert_schema(s, row, rule, result.project, with_notes=False)
                jobs += notify.enqueue(s, ctx, alert, "fired", webhooks)
                fired.append(alert)
        else:
            rule.pending_since = None
            if open_ is not None:
                open_.status, open_.resolved_at = "resolved", at
                s.flush()
                alert = alert_schema(s, open_, rule, result.project, with_notes=False)
                jobs += notify.enqueue(s, ctx, alert, "resolved", webhooks)
                resolved.append(alert)
    return fired, resolved, jobs


def _webhooks(spec: dict[str, Any]) -> list[Any]:
    from llmloop.services.monitor.schemas import Webhook

    return [Webhook.model_validate(w) for w in spec.get("webhooks", [])]
