"""Schedules: stored with a checked cron, synced into APScheduler inside the server, fired and recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.integration.pipelines.helpers import basic, folder

from llmloop.config import reset_settings


def test_schedule_sync_fire_and_unschedule(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmloop.context import local_context
    from llmloop.services.schedules.jobs import register_job_kind
    from llmloop.services.schedules.scheduler import Scheduler

    monkeypatch.setenv("LLMLOOP_EXECUTOR", "inline")
    reset_settings()
    work = folder(tmp_path)
    path = work.pipeline(
        {"name": "basic", "steps": [basic()["steps"][3]]}
    )  # one tiny step: firing is the point
    bad = cli("pipeline", "schedule", str(path), "--cron", "61 * * * *")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: cron '61 * * * *': ")
    made = json.loads(cli("pipeline", "schedule", str(path), "--cron", "0 3 * * *", "--json").stdout)
    assert (made["name"], made["kind"], made["target"]) == ("basic", "pipeline", str(path.resolve()))
    assert made["next_run_at"] is not None
    again = cli("pipeline", "schedule", str(path), "--cron", "0 4 * * *")
    assert again.exit_code == 2 and "already exists" in again.stderr

    calls: list[str] = []

    def probe(_ctx: Any, schedule: Any) -> str:
        calls.append(schedule.name)
        raise RuntimeError("probe is down")

    register_job_kind("probe", probe)
    from llmloop.services.schedules.schemas import ScheduleCreate
    from llmloop.services.schedules.service import create_schedule

    ctx = local_context()
    create_schedule(ctx, spec=ScheduleCreate(name="probe", kind="probe", target="x", cron="*/5 * * * *"))
    scheduler = Scheduler(ctx, sync_s=3600)
    scheduler.sync()
    jobs = scheduler.jobs()
    assert sorted(jobs.values()) == ["*/5 * * * *", "0 3 * * *"]
    for sid in jobs:
        scheduler.fire(sid)
    listed = {s["name"]: s for s in json.loads(cli("pipeline", "schedules", "--json").stdout)["items"]}
    assert listed["basic"]["last_status"] == "ok"
    assert (listed["probe"]["last_status"], listed["probe"]["last_error"]) == (
        "failed",
        "RuntimeError: probe is down",
    )
    assert calls == ["probe"]
    runs = json.loads(cli("pipeline", "runs", "--json").stdout)["items"]
    assert [(r["name"], r["status"]) for r in runs] == [("basic", "finished")]

    assert cli("pipeline", "unschedule", "basic").exit_code == 0
    scheduler.sync()
    assert list(scheduler.jobs().values()) == ["*/5 * * * *"]
    assert cli("pipeline", "unschedule", "basic").exit_code == 2


def test_the_server_runs_the_scheduler_in_its_lifespan(tmp_path: Path, cli: Any) -> None:
    from fastapi.testclient import TestClient

    from llmloop.context import local_context
    from llmloop.server.app import create_app

    work = folder(tmp_path)
    assert cli("pipeline", "schedule", str(work.pipeline(basic())), "--cron", "0 3 * * *").exit_code == 0
    with TestClient(create_app(local_context(), scheduler=True)) as client:
        scheduler = client.app.state.scheduler  # type: ignore[attr-defined]
        assert list(scheduler.jobs().values()) == ["0 3 * * *"]
        assert scheduler._aps.running
    assert not scheduler._aps.running
