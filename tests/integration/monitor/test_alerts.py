"""Monitors over windows of stored traces, and the alerts their rules raise, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.integration.monitor.traffic import record

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.monitor import alerts, service, triggers
from llmloop.services.monitor.schemas import (
    AlertRuleCreate,
    DriftReference,
    DriftSettings,
    MonitorCreate,
    TriggerCreate,
)
from llmloop.services.serve.feedback import create_feedback
from llmloop.services.serve.schemas import FeedbackCreate

P = "mon"
T0 = 1_900_000_000.0  # a fixed clock: windows are computed from the ``now`` each pass is given


def _errors_monitor(ctx: Any, *, for_s: float = 0.0) -> None:
    service.create_monitor(
        ctx, spec=MonitorCreate(name="errors", project=P, metric="error_rate", window_s=60)
    )
    alerts.create_rule(
        ctx, spec=AlertRuleCreate(name="too-many-errors", project=P, monitor="errors", above=0.5, for_s=for_s)
    )


def test_an_alert_fires_once_while_the_condition_holds_and_resolves_when_it_clears(ctx: Any) -> None:
    _errors_monitor(ctx)
    bad = [record(ctx, project=P, at=T0 + i, status="error") for i in range(3)]
    record(ctx, project=P, at=T0 + 3)
    first = service.run_monitors(ctx, project=P, now=T0 + 10)
    assert first.results[0].value == pytest.approx(0.75)
    assert [a.rule for a in first.fired] == ["too-many-errors"]
    assert set(first.fired[0].trace_ids) == set(bad)  # the alert links the traces that caused it
    assert first.fired[0].message == "errors = 0.75 > 0.5"
    again = service.run_monitors(ctx, project=P, now=T0 + 20)  # still bad: no second alert
    assert again.fired == [] and again.resolved == []
    for i in range(4):
        record(ctx, project=P, at=T0 + 100 + i)
    cleared = service.run_monitors(ctx, project=P, now=T0 + 110)
    assert cleared.results[0].value == 0.0
    assert [a.id for a in cleared.resolved] == [first.fired[0].id]
    listed = alerts.list_alerts(ctx, project=P)
    assert [(a.status, a.resolved_at) for a in listed] == [("resolved", T0 + 110)]


def test_a_duration_holds_the_alert_back_and_an_empty_window_changes_nothing(ctx: Any) -> None:
    _errors_monitor(ctx, for_s=30)
    for i in range(5):
        record(ctx, project=P, at=T0 + i, status="error")
    assert service.run_monitors(ctx, project=P, now=T0 + 10).fired == []  # held 0 s of 30
    assert service.run_monitors(ctx, project=P, now=T0 + 25).fired == []  # 15 s of 30
    fired = service.run_monitors(ctx, project=P, now=T0 + 45)
    assert len(fired.fired) == 1
    empty = service.run_monitors(
        ctx, project=P, now=T0 + 500
    )  # nothing in [440, 500): no evidence either way
    assert empty.results[0].status == "empty" and "no traces" in empty.results[0].message
    assert (
        empty.resolved == []
        and alerts.list_alerts(ctx, project=P, status="firing")[0].id == fired.fired[0].id
    )


def test_ack_and_silence(ctx: Any) -> None:
    _errors_monitor(ctx)
    record(ctx, project=P, at=T0, status="error")
    alert = service.run_monitors(ctx, project=P, now=T0 + 1).fired[0]
    acked = alerts.ack_alert(ctx, alert_id=alert.id)
    assert acked.acked_by == ctx.actor.id and acked.acked_at is not None
    assert alerts.ack_alert(ctx, alert_id=alert.id).acked_at == acked.acked_at
    rule = alerts.silence_rule(ctx, project=P, name="too-many-errors", for_s=3600)
    assert rule.silenced_until is not None and rule.silenced_until > time.time()
    assert alerts.silence_rule(ctx, project=P, name="too-many-errors", for_s=0).silenced_until is None
    with pytest.raises(NotFound):
        alerts.ack_alert(ctx, alert_id="0" * 32)


def test_unknown_metrics_monitors_and_mismatched_conditions_are_clear_errors(ctx: Any) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown metric 'latency_p90'; did you mean 'latency_p99'"):
        MonitorCreate(name="x", project=P, metric="latency_p90")
    with pytest.raises(InvalidInput, match="monitor 'nope'"):
        alerts.create_rule(ctx, spec=AlertRuleCreate(name="r", project=P, monitor="nope", above=1))
    _errors_monitor(ctx)
    with pytest.raises(InvalidInput, match="above or below"):
        alerts.create_rule(ctx, spec=AlertRuleCreate(name="r2", project=P, monitor="errors", drifted=True))
    assert [r.name for r in alerts.list_rules(ctx, project=P)] == ["too-many-errors"]  # nothing half-made
    with pytest.raises(NotFound):
        service.run_monitors(ctx, project=P, monitor="absent")


def test_latency_percentiles_and_feedback_metrics(ctx: Any) -> None:
    for name, metric in (("p95", "latency_p95"), ("down", "thumbs_down_rate"), ("score", "feedback_score")):
        service.create_monitor(ctx, spec=MonitorCreate(name=name, project=P, metric=metric, window_s=60))
    ids = [record(ctx, project=P, at=T0 + i, latency_ms=100.0 * (i + 1)) for i in range(20)]
    create_feedback(ctx, spec=FeedbackCreate(trace_id=ids[0], score=0.0, label="down"))
    create_feedback(ctx, spec=FeedbackCreate(trace_id=ids[1], score=1.0))
    got = {r.monitor: r for r in service.run_monitors(ctx, project=P, now=T0 + 30).results}
    assert got["p95"].value == pytest.approx(1905.0)
    assert got["p95"].trace_ids[0] == ids[-1]  # the slowest first
    assert got["down"].value == 0.5 and got["down"].trace_ids == [ids[0]]
    assert got["score"].value == 0.5


def test_a_drift_monitor_alerts_with_the_traces_that_drove_it_and_a_trigger_would_start(ctx: Any) -> None:
    ref = [record(ctx, project=P, at=T0 + i, text="short trip") for i in range(40)]
    assert ref
    reference = DriftReference(start=T0, end=T0 + 100)
    service.create_monitor(
        ctx,
        spec=MonitorCreate(
            name="input-length", project=P, window_s=100, interval_s=86_400,
            drift=DriftSettings(method="length", reference=reference, min_samples=20),
        ),
    )  # fmt: skip
    alerts.create_rule(
        ctx, spec=AlertRuleCreate(name="drifting", project=P, monitor="input-length", drifted=True)
    )
    triggers.create_trigger(
        ctx,
        spec=TriggerCreate.model_validate(
            {"name": "retrain", "project": P, "pipeline": "pipelines/turn2.yaml", "cooldown_s": 3600,
             "when": {"any": [{"drift": "input-length"}, {"new_feedback": 1000}]}}
        ),
    )  # fmt: skip
    long_ = [
        record(ctx, project=P, at=T0 + 1000 + i, text="a much longer request " * (3 + i % 4))
        for i in range(40)
    ]
    run = service.run_monitors(ctx, project=P, now=T0 + 1100)
    result = run.results[0]
    assert result.drift is not None and result.drift.drifted and result.drift.p_value < 1e-6
    assert result.drift.n_reference == 40 and result.drift.n_current == 40
    assert [e.trace_id in long_ for e in result.drift.examples] == [True] * len(result.drift.examples)
    assert len(run.fired) == 1 and set(run.fired[0].trace_ids) <= set(long_)

    plan = triggers.evaluate(ctx, project=P, name="retrain", dry_run=True, now=T0 + 1200)
    assert (
        plan.action == "start"
        and plan.reasons[0].holds
        and "drift on input-length: yes" in plan.reasons[0].why
    )
    started: list[str] = []
    before = triggers.set_pipeline_starter(lambda c, path, name: started.append(path) or "run-1")
    try:
        done = triggers.evaluate(ctx, project=P, name="retrain", dry_run=False, now=T0 + 1200)
        assert done.action == "start" and done.outcome == "started pipelines/turn2.yaml: run-1"
        assert started == ["pipelines/turn2.yaml"]
        held = triggers.evaluate(ctx, project=P, name="retrain", dry_run=False, now=T0 + 1300)
        assert held.action == "wait" and held.blocked_by[0].startswith("cool-down")
        assert started == ["pipelines/turn2.yaml"]
    finally:
        triggers.set_pipeline_starter(before)
    assert triggers.list_triggers(ctx, project=P)[0].last_started_at == T0 + 1200


def test_a_failing_start_is_recorded_and_spends_no_budget(ctx: Any) -> None:
    triggers.create_trigger(
        ctx,
        spec=TriggerCreate.model_validate(
            {"name": "t", "project": P, "pipeline": "p.yaml", "when": {"every_s": 60}}
        ),
    )

    def broken(c: Any, path: str, name: str) -> str:
        raise RuntimeError("pipeline file missing")

    before = triggers.set_pipeline_starter(broken)
    try:
        done = triggers.evaluate(ctx, project=P, name="t", dry_run=False, now=T0)
    finally:
        triggers.set_pipeline_starter(before)
    assert (
        done.action == "start"
        and "failed to start p.yaml: RuntimeError: pipeline file missing" in done.outcome
    )
    assert triggers.list_triggers(ctx, project=P)[0].last_started_at is None


def test_a_monitor_that_cannot_be_measured_is_reported_and_the_pass_goes_on(ctx: Any) -> None:
    gone = DriftSettings(method="length", reference=DriftReference(dataset="no-such-data@1"), min_samples=5)
    service.create_monitor(ctx, spec=MonitorCreate(name="a-drift", project=P, drift=gone, window_s=100))
    service.create_monitor(
        ctx, spec=MonitorCreate(name="b-count", project=P, metric="request_count", window_s=100)
    )
    for i in range(6):
        record(ctx, project=P, at=T0 + i)
    broken, counted = service.run_monitors(ctx, project=P, now=T0 + 50).results
    assert broken.status == "error" and "no-such-data" in broken.message
    assert counted.status == "ok" and counted.value == 6
    assert service.list_results(ctx, project=P, name="a-drift")[0].status == "error"


def test_guardrail_hits_count_traces_whose_guardrail_span_acted(ctx: Any) -> None:
    from llmloop.services.observe import service as observe
    from llmloop.services.observe.schemas import SpanEvent, SpanRecord
    from llmloop.services.observe.tracer import new_span_id

    service.create_monitor(
        ctx, spec=MonitorCreate(name="guards", project=P, metric="guardrail_hits", window_s=60)
    )
    hit, quiet = record(ctx, project=P, at=T0), record(ctx, project=P, at=T0 + 1)
    refused, other = record(ctx, project=P, at=T0 + 2), record(ctx, project=P, at=T0 + 3)
    guards = (  # trace, span name, events, attributes: a redaction, nothing, a refusal, not a guardrail
        (hit, "guardrails input", [SpanEvent(name="pii.redacted", time=T0)], {}),
        (quiet, "guardrails input", [], {"llmloop.guardrail.fail_closed": True}),
        (refused, "guardrails input", [], {"llmloop.guardrail.refused": "injection"}),
        (other, "retrieval", [SpanEvent(name="cache.miss", time=T0)], {}),
    )
    for trace_id, name, events, attrs in guards:  # each stored after its root: the counts add up
        observe.record_spans(ctx, spans=[SpanRecord(
            trace_id=trace_id, span_id=new_span_id(), project=P, name=name, start_time=T0,
            end_time=T0 + 0.01, events=events, attributes=attrs,
        )])  # fmt: skip
    got = service.run_monitors(ctx, project=P, now=T0 + 10).results[0]
    assert got.value == 2.0 and got.trace_ids == [hit, refused]
