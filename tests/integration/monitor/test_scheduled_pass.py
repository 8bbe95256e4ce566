"""The ``monitor`` schedule kind: what ``llmloop serve`` runs on a cron, from monitors to a started pipeline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.integration.monitor.traffic import record

from llmloop.services.monitor import alerts, service, triggers
from llmloop.services.monitor.schemas import AlertRuleCreate, MonitorCreate, TriggerCreate
from llmloop.services.pipelines import service as pipelines
from llmloop.services.schedules import service as schedules
from llmloop.services.schedules.jobs import job_kind
from llmloop.services.schedules.schemas import ScheduleCreate

P = "watch"


def test_a_monitor_schedule_runs_the_pass_then_starts_the_triggered_pipeline(
    ctx: Any, tmp_path: Path
) -> None:
    service.create_monitor(
        ctx, spec=MonitorCreate(name="errors", project=P, metric="error_rate", window_s=600)
    )
    alerts.create_rule(ctx, spec=AlertRuleCreate(name="bad", project=P, monitor="errors", above=0.5))
    for _ in range(2):
        record(ctx, project=P, at=time.time() - 5, status="error")
    (tmp_path / "turn_steps.py").write_text(
        "def retrain() -> dict[str, str]:\n    return {'note': 'retrained'}\n"
    )
    pipeline = tmp_path / "turn2.yaml"
    pipeline.write_text(
        f"name: turn2\nproject: {P}\nsteps:\n  - name: retrain\n    kind: turn_steps:retrain\n"
        "    outputs: {note: value}\n"
    )
    triggers.create_trigger(
        ctx,
        spec=TriggerCreate.model_validate(
            {"name": "on-errors", "project": P, "pipeline": str(pipeline), "when": {"every_s": 60}}
        ),
    )
    schedule = schedules.create_schedule(
        ctx, spec=ScheduleCreate(name="watch", project=P, kind="monitor", target="*", cron="*/5 * * * *")
    )

    outcome = job_kind("monitor")(ctx, schedule)
    assert outcome.startswith("1 monitor(s), 1 alert(s) fired, 0 resolved")
    assert outcome.endswith("triggers started: on-errors")
    runs = pipelines.list_pipeline_runs(ctx, project=P).items
    assert [(r.name, r.status) for r in runs] == [("turn2", "finished")]
    again = job_kind("monitor")(ctx, schedule)  # the alert holds, the cool-down holds the trigger
    assert "0 alert(s) fired" in again and again.endswith("triggers started: none")
