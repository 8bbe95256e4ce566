"""Monitoring through both clients over one store: same JSON, same errors."""

from __future__ import annotations

import time

from tests.integration.client.conftest import Pair
from tests.integration.monitor.traffic import record

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.monitor.schemas import (
    AlertRuleCreate,
    DriftRequest,
    MonitorCreate,
    MonitoringConfig,
    MonitorRunRequest,
    SilenceRequest,
    TriggerCreate,
    TriggerRunRequest,
)
from llmloop.services.registry.schemas import ModelVersionCreate

COVERED = {
    "monitors.drift",
    "monitors.apply",
    "monitors.create",
    "monitors.list",
    "monitors.results",
    "monitors.run",
    "alerts.create_rule",
    "alerts.list_rules",
    "alerts.list",
    "alerts.ack",
    "alerts.silence",
    "triggers.create",
    "triggers.list",
    "triggers.dry_run",
    "triggers.fire",
    "timeline.get",
}
P = "pmon"


def test_drift_answers_the_same_and_refuses_a_tiny_sample_the_same(pair: Pair) -> None:
    request = DriftRequest(
        reference=["short"] * 20, current=["a far longer sentence than those"] * 20, method="length"
    )
    result = pair.same(lambda c: c.monitoring.drift(request))
    assert result["drifted"] and result["method"] == "length"
    tiny = DriftRequest(reference=["a", "b"], current=["c"] * 10, method="length")
    assert pair.same_error(lambda c: c.monitoring.drift(tiny)) is InvalidInput


def test_monitors_rules_alerts_and_triggers_read_the_same(pair: Pair) -> None:
    now = time.time()
    ids = [
        record(pair.local.ctx, project=P, at=now - 30 + i, status="error", model="pm-model@1")
        for i in range(3)
    ]
    made = pair.both(
        lambda c: c.monitoring.create_monitor(
            MonitorCreate(name=f"errors-{c.remote}", project=P, metric="error_rate", window_s=600)
        )
    )
    assert [m["kind"] for m in made] == ["metric", "metric"]
    config = MonitoringConfig.model_validate(
        {
            "monitors": [{"name": "p95", "project": P, "metric": "latency_p95", "model": "pm-model@1"}],
            "alerts": [
                {"name": "slow", "project": P, "monitor": "p95", "above": 100, "severity": "critical"}
            ],
            "triggers": [{"name": "turn2", "project": P, "pipeline": "turn2.yaml", "when": {"every_s": 60}}],
        }
    )
    assert pair.same(lambda c: c.monitoring.apply(config)) == {
        "monitors": ["p95"],
        "alerts": ["slow"],
        "triggers": ["turn2"],
        "online": [],
    }
    assert {m["name"] for m in pair.same(lambda c: c.monitoring.list_monitors(P))} == {
        "errors-False",
        "errors-True",
        "p95",
    }
    pair.local.monitoring.create_rule(
        AlertRuleCreate(name="errs", project=P, monitor="errors-False", above=0.5)
    )
    rule = pair.remote.monitoring.create_rule(
        AlertRuleCreate(name="errs2", project=P, monitor="errors-True", above=2,  # never: no delivery races the reads
                        webhooks=[{"url": "https://hooks.example.com/services/T0/B0/secret", "format": "slack"}])
    )  # fmt: skip
    assert rule.webhooks[0].url == "https://hooks.example.com"  # the path (a token) is never read back
    assert len(pair.same(lambda c: c.monitoring.list_rules(P))) == 3

    local_run = pair.local.monitoring.run(MonitorRunRequest(project=P, now=now))
    remote_run = pair.remote.monitoring.run(MonitorRunRequest(project=P, now=now))
    assert [r.model_dump() for r in local_run.results] == [r.model_dump() for r in remote_run.results]
    assert {a.rule for a in local_run.fired} == {"errs", "slow"} and remote_run.fired == []
    assert set(local_run.fired[0].trace_ids) <= set(ids)
    results = pair.same(lambda c: c.monitoring.results(P, "p95"))
    assert len(results) == 2 and results[0]["value"] >= 200
    alerts = pair.same(lambda c: c.monitoring.list_alerts(P, "firing"))
    assert len(alerts) == 2
    first = alerts[0]["id"]
    acked = pair.both(lambda c: c.monitoring.ack(first))
    assert acked[0]["acked_at"] == acked[1]["acked_at"]
    silenced = pair.remote.monitoring.silence("slow", SilenceRequest(project=P, for_s=60))
    assert silenced.silenced_until is not None
    assert pair.local.monitoring.silence("slow", SilenceRequest(project=P, for_s=0)).silenced_until is None
    assert pair.same_error(lambda c: c.monitoring.ack("0" * 32)) is NotFound

    pair.local.monitoring.create_trigger(
        TriggerCreate.model_validate(
            {"name": "drifty", "project": P, "pipeline": "t.yaml", "when": {"drift": "none"}}
        )
    )
    listed = pair.same(lambda c: c.monitoring.list_triggers(P))
    assert [t["name"] for t in listed] == ["drifty", "turn2"]
    plan = pair.same(lambda c: c.monitoring.dry_run("drifty", TriggerRunRequest(project=P, now=now)))
    assert plan["action"] == "wait" and "no monitor 'none'" in plan["reasons"][0]["why"]
    fired = pair.same(lambda c: c.monitoring.fire("drifty", TriggerRunRequest(project=P, now=now)))
    assert fired["action"] == "wait"
    remote_made = pair.remote.monitoring.create_trigger(
        TriggerCreate.model_validate(
            {"name": "weekly", "project": P, "pipeline": "w.yaml", "when": {"every_s": 604800}}
        )
    )
    assert remote_made.last_started_at is None
    assert pair.same_error(lambda c: c.monitoring.dry_run("absent", TriggerRunRequest(project=P))) is NotFound


def test_a_model_versions_timeline_reads_the_same(pair: Pair) -> None:
    pair.local.models.register_version(ModelVersionCreate(project=P, name="tl-model", base="org/timeline"))
    record(pair.local.ctx, project=P, at=time.time(), model="tl-model@1")
    timeline = pair.same(lambda c: c.monitoring.timeline("tl-model@1", P))
    assert [e["kind"] for e in timeline["events"]][:1] == ["registered"]
    assert "traffic" in {e["kind"] for e in timeline["events"]}
    assert pair.same_error(lambda c: c.monitoring.timeline("tl-model@9", P)) is NotFound
