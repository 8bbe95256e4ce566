"""``client.monitoring``: monitors, drift tests, alerts, triggers and a model version's timeline.

Monitors, alert rules and triggers share one sub-API because one YAML file defines them together
(``apply``) and each reads the others' state (a rule watches a monitor, a trigger its results).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
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
    MonitorResult,
    MonitorResultList,
    MonitorRun,
    MonitorRunRequest,
    OnlineEvaluator,
    OnlineEvaluatorCreate,
    OnlineEvaluatorList,
    OnlineRun,
    OnlineRunRequest,
    OnlineScore,
    OnlineScoreList,
    SilenceRequest,
    Timeline,
    Trigger,
    TriggerCreate,
    TriggerDecision,
    TriggerList,
    TriggerRunRequest,
)

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route("monitors.drift", "POST", "/monitors/drift", "monitors:read", DriftResult, DriftRequest),
    Route("monitors.apply", "POST", "/monitors/apply", "monitors:write", Applied, MonitoringConfig),
    Route("monitors.create", "POST", "/monitors", "monitors:write", Monitor, MonitorCreate, status=201),
    Route("monitors.list", "GET", "/monitors", "monitors:read", MonitorList),
    Route("monitors.results", "GET", "/monitors/{name}/results", "monitors:read", MonitorResultList),
    Route("monitors.run", "POST", "/monitors/run", "monitors:run", MonitorRun, MonitorRunRequest),
    Route(
        "monitors.online_create",
        "POST",
        "/monitors/online",
        "monitors:write",
        OnlineEvaluator,
        OnlineEvaluatorCreate,
        status=201,
    ),
    Route("monitors.online_list", "GET", "/monitors/online", "monitors:read", OnlineEvaluatorList),
    Route("monitors.online_delete", "DELETE", "/monitors/online/{name}", "monitors:write", status=204),
    Route("monitors.online_run", "POST", "/monitors/online/run", "monitors:run", OnlineRun, OnlineRunRequest),
    Route(
        "monitors.online_scores",
        "GET",
        "/monitors/online/scores/{trace_id}",
        "monitors:read",
        OnlineScoreList,
    ),
    Route(
        "alerts.create_rule",
        "POST",
        "/alerts/rules",
        "monitors:write",
        AlertRule,
        AlertRuleCreate,
        status=201,
    ),
    Route("alerts.list_rules", "GET", "/alerts/rules", "monitors:read", AlertRuleList),
    Route("alerts.list", "GET", "/alerts", "monitors:read", AlertList),
    Route("alerts.ack", "POST", "/alerts/{alert_id}/ack", "monitors:write", Alert),
    Route(
        "alerts.silence", "POST", "/alerts/rules/{name}/silence", "monitors:write", AlertRule, SilenceRequest
    ),
    Route("triggers.create", "POST", "/triggers", "triggers:write", Trigger, TriggerCreate, status=201),
    Route("triggers.list", "GET", "/triggers", "monitors:read", TriggerList),
    Route(
        "triggers.dry_run",
        "POST",
        "/triggers/{name}/dry-run",
        "monitors:read",
        TriggerDecision,
        TriggerRunRequest,
    ),
    Route(
        "triggers.fire", "POST", "/triggers/{name}/fire", "triggers:write", TriggerDecision, TriggerRunRequest
    ),
    Route("timeline.get", "GET", "/timeline/{ref}", "models:read", Timeline),
]


class Monitoring(Protocol):
    def drift(self, request: DriftRequest) -> DriftResult: ...
    def apply(self, config: MonitoringConfig) -> Applied: ...
    def create_monitor(self, spec: MonitorCreate) -> Monitor: ...
    def list_monitors(self, project: str) -> list[Monitor]: ...
    def results(self, project: str, name: str, limit: int = 100) -> list[MonitorResult]: ...
    def run(self, request: MonitorRunRequest) -> MonitorRun: ...
    def create_online(self, spec: OnlineEvaluatorCreate) -> OnlineEvaluator: ...
    def list_online(self, project: str) -> list[OnlineEvaluator]: ...
    def delete_online(self, project: str, name: str) -> None: ...
    def run_online(self, request: OnlineRunRequest) -> OnlineRun: ...
    def online_scores(self, project: str, trace_id: str) -> list[OnlineScore]: ...
    def create_rule(self, spec: AlertRuleCreate) -> AlertRule: ...
    def list_rules(self, project: str) -> list[AlertRule]: ...
    def list_alerts(self, project: str, status: str | None = None) -> list[Alert]: ...
    def ack(self, alert_id: str) -> Alert: ...
    def silence(self, name: str, request: SilenceRequest) -> AlertRule: ...
    def create_trigger(self, spec: TriggerCreate) -> Trigger: ...
    def list_triggers(self, project: str) -> list[Trigger]: ...
    def dry_run(self, name: str, request: TriggerRunRequest) -> TriggerDecision: ...
    def fire(self, name: str, request: TriggerRunRequest) -> TriggerDecision: ...
    def timeline(self, ref: str, project: str | None = None) -> Timeline: ...


class LocalMonitoring:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def drift(self, request: DriftRequest) -> DriftResult:
        from llmloop.services.monitor.service import detect_drift

        return detect_drift(self.ctx, request=request)

    def apply(self, config: MonitoringConfig) -> Applied:
        from llmloop.services.monitor.service import apply_config

        return apply_config(self.ctx, config=config)

    def create_monitor(self, spec: MonitorCreate) -> Monitor:
        from llmloop.services.monitor.service import create_monitor

        return create_monitor(self.ctx, spec=spec)

    def list_monitors(self, project: str) -> list[Monitor]:
        from llmloop.services.monitor.service import list_monitors

        return list_monitors(self.ctx, project=project)

    def results(self, project: str, name: str, limit: int = 100) -> list[MonitorResult]:
        from llmloop.services.monitor.service import list_results

        return list_results(self.ctx, project=project, name=name, limit=limit)

    def run(self, request: MonitorRunRequest) -> MonitorRun:
        from llmloop.services.monitor.service import run_monitors
        from llmloop.services.observe.tracer import flush

        flush()  # traces still in this process's span queue belong in the window
        return run_monitors(self.ctx, project=request.project, monitor=request.monitor, now=request.now)

    def create_online(self, spec: OnlineEvaluatorCreate) -> OnlineEvaluator:
        from llmloop.services.monitor.online import create_evaluator

        return create_evaluator(self.ctx, spec=spec)

    def list_online(self, project: str) -> list[OnlineEvaluator]:
        from llmloop.services.monitor.online import list_evaluators

        return list_evaluators(self.ctx, project=project)

    def delete_online(self, project: str, name: str) -> None:
        from llmloop.services.monitor.online import delete_evaluator

        delete_evaluator(self.ctx, project=project, name=name)

    def run_online(self, request: OnlineRunRequest) -> OnlineRun:
        from llmloop.services.monitor.online import run_online
        from llmloop.services.observe.tracer import flush

        flush()  # traces still in this process's span queue belong in the window
        return run_online(self.ctx, project=request.project, evaluator=request.evaluator, now=request.now)

    def online_scores(self, project: str, trace_id: str) -> list[OnlineScore]:
        from llmloop.services.monitor.online import list_scores

        return list_scores(self.ctx, project=project, trace_id=trace_id)

    def create_rule(self, spec: AlertRuleCreate) -> AlertRule:
        from llmloop.services.monitor.alerts import create_rule

        return create_rule(self.ctx, spec=spec)

    def list_rules(self, project: str) -> list[AlertRule]:
        from llmloop.services.monitor.alerts import list_rules

        return list_rules(self.ctx, project=project)

    def list_alerts(self, project: str, status: str | None = None) -> list[Alert]:
        from llmloop.services.monitor.alerts import list_alerts

        return list_alerts(self.ctx, project=project, status=status)

    def ack(self, alert_id: str) -> Alert:
        from llmloop.services.monitor.alerts import ack_alert

        return ack_alert(self.ctx, alert_id=alert_id)

    def silence(self, name: str, request: SilenceRequest) -> AlertRule:
        from llmloop.services.monitor.alerts import silence_rule

        return silence_rule(self.ctx, project=request.project, name=name, for_s=request.for_s)

    def create_trigger(self, spec: TriggerCreate) -> Trigger:
        from llmloop.services.monitor.triggers import create_trigger

        return create_trigger(self.ctx, spec=spec)

    def list_triggers(self, project: str) -> list[Trigger]:
        from llmloop.services.monitor.triggers import list_triggers

        return list_triggers(self.ctx, project=project)

    def dry_run(self, name: str, request: TriggerRunRequest) -> TriggerDecision:
        from llmloop.services.monitor.triggers import evaluate

        return evaluate(self.ctx, project=request.project, name=name, dry_run=True, now=request.now)

    def fire(self, name: str, request: TriggerRunRequest) -> TriggerDecision:
        from llmloop.services.monitor.triggers import evaluate

        return evaluate(self.ctx, project=request.project, name=name, dry_run=False, now=request.now)

    def timeline(self, ref: str, project: str | None = None) -> Timeline:
        from llmloop.services.monitor.timeline import model_timeline

        return model_timeline(self.ctx, ref=ref, project=project)


class RemoteMonitoring:
    def __init__(self, http: Http) -> None:
        self.http = http

    def drift(self, request: DriftRequest) -> DriftResult:
        out: DriftResult = self.http.call("monitors.drift", body=request)
        return out

    def apply(self, config: MonitoringConfig) -> Applied:
        out: Applied = self.http.call("monitors.apply", body=config)
        return out

    def create_monitor(self, spec: MonitorCreate) -> Monitor:
        out: Monitor = self.http.call("monitors.create", body=spec)
        return out

    def list_monitors(self, project: str) -> list[Monitor]:
        page: MonitorList = self.http.call("monitors.list", query={"project": project})
        return page.items

    def results(self, project: str, name: str, limit: int = 100) -> list[MonitorResult]:
        page: MonitorResultList = self.http.call(
            "monitors.results", path={"name": name}, query={"project": project, "limit": limit}
        )
        return page.items

    def run(self, request: MonitorRunRequest) -> MonitorRun:
        out: MonitorRun = self.http.call("monitors.run", body=request)
        return out

    def create_online(self, spec: OnlineEvaluatorCreate) -> OnlineEvaluator:
        out: OnlineEvaluator = self.http.call("monitors.online_create", body=spec)
        return out

    def list_online(self, project: str) -> list[OnlineEvaluator]:
        page: OnlineEvaluatorList = self.http.call("monitors.online_list", query={"project": project})
        return page.items

    def delete_online(self, project: str, name: str) -> None:
        self.http.call("monitors.online_delete", path={"name": name}, query={"project": project})

    def run_online(self, request: OnlineRunRequest) -> OnlineRun:
        out: OnlineRun = self.http.call("monitors.online_run", body=request)
        return out

    def online_scores(self, project: str, trace_id: str) -> list[OnlineScore]:
        page: OnlineScoreList = self.http.call(
            "monitors.online_scores", path={"trace_id": trace_id}, query={"project": project}
        )
        return page.items

    def create_rule(self, spec: AlertRuleCreate) -> AlertRule:
        out: AlertRule = self.http.call("alerts.create_rule", body=spec)
        return out

    def list_rules(self, project: str) -> list[AlertRule]:
        page: AlertRuleList = self.http.call("alerts.list_rules", query={"project": project})
        return page.items

    def list_alerts(self, project: str, status: str | None = None) -> list[Alert]:
        page: AlertList = self.http.call("alerts.list", query={"project": project, "status": status})
        return page.items

    def ack(self, alert_id: str) -> Alert:
        out: Alert = self.http.call("alerts.ack", path={"alert_id": alert_id})
        return out

    def silence(self, name: str, request: SilenceRequest) -> AlertRule:
        out: AlertRule = self.http.call("alerts.silence", path={"name": name}, body=request)
        return out

    def create_trigger(self, spec: TriggerCreate) -> Trigger:
        out: Trigger = self.http.call("triggers.create", body=spec)
        return out

    def list_triggers(self, project: str) -> list[Trigger]:
        page: TriggerList = self.http.call("triggers.list", query={"project": project})
        return page.items

    def dry_run(self, name: str, request: TriggerRunRequest) -> TriggerDecision:
        out: TriggerDecision = self.http.call("triggers.dry_run", path={"name": name}, body=request)
        return out

    def fire(self, name: str, request: TriggerRunRequest) -> TriggerDecision:
        out: TriggerDecision = self.http.call("triggers.fire", path={"name": name}, body=request)
        return out

    def timeline(self, ref: str, project: str | None = None) -> Timeline:
        out: Timeline = self.http.call("timeline.get", path={"ref": ref}, query={"project": project})
        return out
