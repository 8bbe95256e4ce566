"""/api/v1/monitors, /alerts, /triggers and /timeline: monitoring, one router per path prefix."""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.monitor import alerts, online, service, timeline, triggers
from llmloop.services.monitor.schemas import (
    Alert,
    AlertList,
    AlertRule,
    AlertRuleCreate,
    AlertRuleList,
    Applied,
    DriftRequest,
    DriftResult,
    Monitor,
    MonitorCreate,
    MonitoringConfig,
    MonitorList,
    MonitorResultList,
    MonitorRun,
    MonitorRunRequest,
    OnlineEvaluator,
    OnlineEvaluatorCreate,
    OnlineEvaluatorList,
    OnlineRun,
    OnlineRunRequest,
    OnlineScoreList,
    SilenceRequest,
    Timeline,
    Trigger,
    TriggerCreate,
    TriggerDecision,
    TriggerList,
    TriggerRunRequest,
)
from llmloop.services.observe.tracer import writer_for

monitors_router = APIRouter(prefix="/monitors", tags=["monitors"])
alerts_router = APIRouter(prefix="/alerts", tags=["alerts"])
triggers_router = APIRouter(prefix="/triggers", tags=["triggers"])
timeline_router = APIRouter(prefix="/timeline", tags=["timeline"])
ROUTERS = [monitors_router, alerts_router, triggers_router, timeline_router]


@mount(monitors_router, "monitors.drift")
def drift(ctx: CtxDep, request: DriftRequest) -> DriftResult:
    return service.detect_drift(ctx, request=request)


@mount(monitors_router, "monitors.apply")
def apply(ctx: CtxDep, config: MonitoringConfig) -> Applied:
    return service.apply_config(ctx, config=config)


@mount(monitors_router, "monitors.online_create")
def create_online(ctx: CtxDep, spec: OnlineEvaluatorCreate) -> OnlineEvaluator:
    return online.create_evaluator(ctx, spec=spec)


@mount(monitors_router, "monitors.online_list")
def list_online(ctx: CtxDep, project: str = "default") -> OnlineEvaluatorList:
    return OnlineEvaluatorList(items=online.list_evaluators(ctx, project=project))


@mount(monitors_router, "monitors.online_delete")
def delete_online(ctx: CtxDep, name: str, project: str = "default") -> None:
    online.delete_evaluator(ctx, project=project, name=name)


@mount(monitors_router, "monitors.online_run")
def run_online(ctx: CtxDep, request: OnlineRunRequest) -> OnlineRun:
    writer_for(ctx).flush()  # spans still queued in this server belong in the window
    return online.run_online(ctx, project=request.project, evaluator=request.evaluator, now=request.now)


@mount(monitors_router, "monitors.online_scores")
def online_scores(ctx: CtxDep, trace_id: str, project: str = "default") -> OnlineScoreList:
    return OnlineScoreList(items=online.list_scores(ctx, project=project, trace_id=trace_id))


@mount(monitors_router, "monitors.create")
def create_monitor(ctx: CtxDep, spec: MonitorCreate) -> Monitor:
    return service.create_monitor(ctx, spec=spec)


@mount(monitors_router, "monitors.list")
def list_monitors(ctx: CtxDep, project: str = "default") -> MonitorList:
    return MonitorList(items=service.list_monitors(ctx, project=project))


@mount(monitors_router, "monitors.results")
def results(
    ctx: CtxDep, name: str, project: str = "default", limit: int = Query(100, ge=1, le=10_000)
) -> MonitorResultList:
    return MonitorResultList(items=service.list_results(ctx, project=project, name=name, limit=limit))


@mount(monitors_router, "monitors.run")
def run(ctx: CtxDep, request: MonitorRunRequest) -> MonitorRun:
    writer_for(ctx).flush()  # spans still queued in this server belong in the window
    return service.run_monitors(ctx, project=request.project, monitor=request.monitor, now=request.now)


@mount(alerts_router, "alerts.create_rule")
def create_rule(ctx: CtxDep, spec: AlertRuleCreate) -> AlertRule:
    return alerts.create_rule(ctx, spec=spec)


@mount(alerts_router, "alerts.list_rules")
def list_rules(ctx: CtxDep, project: str = "default") -> AlertRuleList:
    return AlertRuleList(items=alerts.list_rules(ctx, project=project))


@mount(alerts_router, "alerts.list")
def list_alerts(
    ctx: CtxDep, project: str = "default", status: str | None = Query(None, pattern="^(firing|resolved)$")
) -> AlertList:
    return AlertList(items=alerts.list_alerts(ctx, project=project, status=status))


@mount(alerts_router, "alerts.ack")
def ack(ctx: CtxDep, alert_id: str) -> Alert:
    return alerts.ack_alert(ctx, alert_id=alert_id)


@mount(alerts_router, "alerts.silence")
def silence(ctx: CtxDep, name: str, request: SilenceRequest) -> AlertRule:
    return alerts.silence_rule(ctx, project=request.project, name=name, for_s=request.for_s)


@mount(triggers_router, "triggers.create")
def create_trigger(ctx: CtxDep, spec: TriggerCreate) -> Trigger:
    return triggers.create_trigger(ctx, spec=spec)


@mount(triggers_router, "triggers.list")
def list_triggers(ctx: CtxDep, project: str = "default") -> TriggerList:
    return TriggerList(items=triggers.list_triggers(ctx, project=project))


@mount(triggers_router, "triggers.dry_run")
def dry_run(ctx: CtxDep, name: str, request: TriggerRunRequest) -> TriggerDecision:
    return triggers.evaluate(ctx, project=request.project, name=name, dry_run=True, now=request.now)


@mount(triggers_router, "triggers.fire")
def fire(ctx: CtxDep, name: str, request: TriggerRunRequest) -> TriggerDecision:
    return triggers.evaluate(ctx, project=request.project, name=name, dry_run=False, now=request.now)


@mount(timeline_router, "timeline.get")
def get_timeline(ctx: CtxDep, ref: str, project: str | None = None) -> Timeline:
    return timeline.model_timeline(ctx, ref=ref, project=project)
