"""Alert webhooks against real receivers on 127.0.0.1, sent from a real ``llmloop serve``.

A receiver that answers 503 and a port nobody listens on are retried with backoff, then marked
failed; a live Slack-style receiver gets its payload. The monitor pass answers before any delivery
finishes and the server keeps serving while the deliveries retry.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from tests.conftest import free_port, serving_llmloop
from tests.fakes.server_thread import ServerThread
from tests.integration.monitor.traffic import record

from llmloop.client import LocalClient, RemoteClient
from llmloop.config import Settings
from llmloop.services.monitor.schemas import AlertRuleCreate, MonitorCreate, MonitorRunRequest

P = "hooks"


def _receiver(hits: list[tuple[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/{answer}")
    async def hook(answer: str, request: Request) -> Response:
        hits.append((answer, await request.json()))
        return Response(status_code=503 if answer == "down" else 200)

    return app


def test_a_down_receiver_is_retried_then_failed_while_the_server_keeps_serving(tmp_path: Path) -> None:
    home = tmp_path / "home"
    local = LocalClient(Settings(home=home))  # type: ignore[call-arg]
    hits: list[tuple[str, Any]] = []
    with ServerThread(_receiver(hits), free_port()) as receiver:
        nobody = f"http://127.0.0.1:{free_port()}/gone"
        hooks = [
            {"url": f"{receiver.url}/down", "attempts": 3, "backoff_s": 0.4},
            {"url": nobody, "attempts": 3, "backoff_s": 0.4},
            {"url": f"{receiver.url}/up", "format": "slack"},
        ]
        local.monitoring.create_monitor(
            MonitorCreate(name="errors", project=P, metric="error_rate", window_s=600)
        )
        local.monitoring.create_rule(
            AlertRuleCreate.model_validate(
                {"name": "errs", "project": P, "monitor": "errors", "above": 0.1, "webhooks": hooks}
            )
        )
        now = time.time()
        bad = record(local.ctx, project=P, at=now - 5, status="error")
        with serving_llmloop(home) as server:
            remote = RemoteClient(Settings(home=home, server_url=server.url))  # type: ignore[call-arg]
            started = time.monotonic()
            run = remote.monitoring.run(MonitorRunRequest(project=P, now=now))
            answered = time.monotonic() - started
            assert [a.rule for a in run.fired] == ["errs"] and run.fired[0].trace_ids == [bad]
            assert answered < 1.2  # the retries (0.4 s + 0.8 s per dead receiver) run after the answer
            health = [httpx.get(f"{server.url}/api/v1/health", timeout=2).status_code for _ in range(3)]
            assert health == [200, 200, 200]
            deadline = time.monotonic() + 30
            while True:
                notes = remote.monitoring.list_alerts(P)[0].notifications
                if all(n.status != "pending" for n in notes) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            remote.http.close()
    by_target = {(n.target, n.format): n for n in notes}
    down = by_target[(receiver.url, "json")]
    gone = by_target[(nobody.rsplit("/", 1)[0], "json")]
    up = by_target[(receiver.url, "slack")]
    assert (down.status, down.attempts, down.last_error) == ("failed", 3, "HTTP 503")
    assert (gone.status, gone.attempts) == ("failed", 3) and "Connect" in gone.last_error
    assert (up.status, up.attempts) == ("sent", 1)
    assert [h[0] for h in hits].count("down") == 3
    slack = next(body for answer, body in hits if answer == "up")
    assert "errs" in slack["text"] and slack["blocks"][1]["elements"][0]["text"] == f"traces: {bad}"
    generic = next(body for answer, body in hits if answer == "down")
    assert generic["event"] == "fired" and generic["alert"]["trace_ids"] == [bad]


@pytest.mark.slow  # a fresh interpreter: ~10 s quiet, a minute on busy cores
def test_a_one_off_monitor_run_delivers_before_the_process_exits(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    local = LocalClient(Settings(home=home))  # type: ignore[call-arg]
    hits: list[tuple[str, Any]] = []
    with ServerThread(_receiver(hits), free_port()) as receiver:
        local.monitoring.create_monitor(
            MonitorCreate(name="errors", project=P, metric="error_rate", window_s=600)
        )
        local.monitoring.create_rule(
            AlertRuleCreate.model_validate(
                {"name": "errs", "project": P, "monitor": "errors", "above": 0.1,
                 "webhooks": [{"url": f"{receiver.url}/up"}]}
            )
        )  # fmt: skip
        record(local.ctx, project=P, at=time.time() - 5, status="error")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
        done = subprocess.run(
            [sys.executable, "-m", "llmloop", "monitor", "run", "-p", P],
            env={**env, "LLMLOOP_HOME": str(home)}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "FIRED [warning] errs" in done.stdout
    assert [h[0] for h in hits] == ["up"]
    assert local.monitoring.list_alerts(P)[0].notifications[0].status == "sent"
