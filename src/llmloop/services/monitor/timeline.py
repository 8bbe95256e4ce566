"""One model version's life, oldest first: registered, evaluated, aliased, serving, judged, drifting, alerting.

Read from the tables each part already writes, so the timeline is never a second copy to keep in
step: the version row, its alias moves, evaluations of its registry id, its traffic per day (traces
whose model is ``NAME@VERSION``), the feedback on that traffic, and the results and alerts of the
monitors scoped to it (``model: NAME@VERSION``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from llmloop.services.monitor.schemas import Timeline, TimelineEvent
from llmloop.store.projects import project_id
from llmloop.store.tables.deployments import FeedbackRow
from llmloop.store.tables.evaluations import EvaluationRow
from llmloop.store.tables.models import ModelAliasEventRow
from llmloop.store.tables.monitoring import AlertRow, AlertRuleRow, MonitorResultRow, MonitorRow
from llmloop.store.tables.traces import TraceRow

if TYPE_CHECKING:
    from llmloop.context import Context

DAY_S = 86_400.0


def model_timeline(ctx: Context, *, ref: str, project: str | None = None) -> Timeline:
    """The life of the version ``ref`` names (``NAME``: the latest, ``NAME@V``, ``NAME@ALIAS``)."""
    from llmloop.services.registry.service import resolve

    project = project or ctx.settings.default_project
    ctx.require("models:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        m, v = resolve(s, project, ref)
        version = v.version
        ref = f"{m.name}@{version}"
        events = [TimelineEvent(at=v.created_at, kind="registered", summary=f"{ref} registered ({v.source})",
                                data={"run_id": v.run_id, "base": v.base_version or v.base_uri})]  # fmt: skip
        moves = s.scalars(
            select(ModelAliasEventRow).where(
                ModelAliasEventRow.model_id == m.id,
                or_(ModelAliasEventRow.to_version == version, ModelAliasEventRow.from_version == version),
            )
        )
        for e in moves:
            arrived = e.to_version == version
            events.append(TimelineEvent(
                at=e.created_at, kind="alias",
                summary=f"{e.alias} {'moved to' if arrived else 'left'} {ref}" + (" (forced)" if e.forced else ""),
                data={"alias": e.alias, "from": e.from_version, "to": e.to_version, "reason": e.reason},
            ))  # fmt: skip
        for ev in s.scalars(select(EvaluationRow).where(EvaluationRow.model_version == v.id)):
            events.append(TimelineEvent(at=ev.created_at, kind="evaluation", summary=f"evaluated on {ev.suite} ({ev.status})",
                                        data={"evaluation": ev.id, "metrics": ev.metrics}))  # fmt: skip
        events += _traffic(s, pid, ref)
        monitors = [
            r
            for r in s.scalars(select(MonitorRow).where(MonitorRow.project_id == pid))
            if r.spec.get("model") == ref
        ]
        for mon in monitors:
            q = select(MonitorResultRow).where(
                MonitorResultRow.monitor_id == mon.id, MonitorResultRow.p_value.is_not(None)
            )
            for r in s.scalars(q):
                events.append(TimelineEvent(at=r.ran_at, kind="drift", summary=f"{mon.name}: p={r.p_value:.3g}",
                                            data={"monitor": mon.name, "drifted": r.result.get("drift", {}).get("drifted")}))  # fmt: skip
            alerts = s.execute(
                select(AlertRow, AlertRuleRow.name).join(AlertRuleRow, AlertRuleRow.id == AlertRow.rule_id)
                .where(AlertRuleRow.monitor_id == mon.id)
            )  # fmt: skip
            for a, rule in alerts:
                events.append(TimelineEvent(at=a.fired_at, kind="alert", summary=f"{rule} [{a.severity}] {a.message}",
                                            data={"alert": a.id, "status": a.status, "trace_ids": a.trace_ids[:5]}))  # fmt: skip
    events.sort(key=lambda e: e.at)
    return Timeline(model=m.name, version=version, events=events)


def _traffic(s: Any, pid: str, ref: str) -> list[TimelineEvent]:
    """Requests, errors, latency and feedback of the version, one event per day it served (at its first request)."""
    days: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ids_by_day: dict[str, int] = {}
    q = select(TraceRow.trace_id, TraceRow.start_time, TraceRow.end_time, TraceRow.status).where(
        TraceRow.project_id == pid, TraceRow.model == ref
    )
    for trace_id, start, end, status in s.execute(q):
        d = days[int(start // DAY_S)]
        d["first"] = min(d.get("first", start), start)
        d["requests"] += 1
        d["errors"] += status == "error"
        d["latency_ms"] += (end - start) * 1000.0
        ids_by_day[trace_id] = int(start // DAY_S)
    ids = list(ids_by_day)
    for i in range(0, len(ids), 500):
        for trace_id, score in s.execute(
            select(FeedbackRow.trace_id, FeedbackRow.score).where(FeedbackRow.trace_id.in_(ids[i : i + 500]))
        ):
            d = days[ids_by_day[trace_id]]
            d["feedback"] += 1
            if score is not None:
                d["scored"] += 1
                d["score"] += score
    out = []
    for _, d in sorted(days.items()):
        n = d["requests"]
        data: dict[str, Any] = {"requests": int(n), "error_rate": d["errors"] / n, "mean_latency_ms": d["latency_ms"] / n,
                                "feedback": int(d["feedback"])}  # fmt: skip
        if d["scored"]:
            data["mean_feedback_score"] = d["score"] / d["scored"]
        out.append(TimelineEvent(at=d["first"], kind="traffic", summary=f"{int(n)} requests", data=data))
        if d["feedback"]:
            out.append(
                TimelineEvent(
                    at=d["first"], kind="feedback", summary=f"{int(d['feedback'])} feedback", data=data
                )
            )
    return out
