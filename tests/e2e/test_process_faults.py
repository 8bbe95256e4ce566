"""Several processes on one SQLite store, and a run whose process is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import llmloop as ll
from llmloop.services.tracking.service import HOLD_GRACE_S

LOGGER = textwrap.dedent(
    """
    import sys, llmloop as ll
    name, n = sys.argv[1], int(sys.argv[2])
    with ll.start_run(project="conc", name=name) as run:
        for step in range(n):
            run.log_metric("loss", step * 0.5, step=step)
            if step % 100 == 0:
                run.flush()
    print(run.id)
    """
)

KILLED = textwrap.dedent(
    """
    import sys, time, llmloop as ll
    run = ll.start_run(project="crash", name="doomed")
    for step in range(100):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run.flush()
    print(run.id, flush=True)
    time.sleep(600)
    """
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
    env["LLMLOOP_HOME"] = str(home)
    return env


def test_two_processes_logging_at_once_lose_nothing(isolated_home: Path) -> None:
    ll.start_run(project="conc", name="warm-up").end()  # schema in place before the race
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOGGER, f"writer-{i}", "2000"],
            env=_env(isolated_home),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    ids = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        ids.append(out.strip())
    for run_id in ids:
        run = ll.get_run(run_id)
        assert run.status == "finished"
        hist = run.metric_history("loss")
        assert [p.step for p in hist] == list(range(2000))


def test_sigkilled_run_is_marked_killed_and_keeps_flushed_metrics(isolated_home: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED], env=_env(isolated_home), stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, "child did not start its run"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(0.1)
    run = ll.get_run(run_id)
    assert run.status == "killed"
    assert run.end_time is not None
    assert len(run.metric_history("loss")) == 100


def test_sigkilled_client_of_a_server_has_its_run_marked_killed_in_seconds(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is tied to the client's connection: a live idle client keeps it, ``kill -9`` ends it."""
    env = {**live_server.env, "LLMLOOP_SERVER_URL": live_server.url}
    proc = subprocess.Popen([sys.executable, "-c", KILLED], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, "child did not start its run"
    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    time.sleep(HOLD_GRACE_S + 2)  # idle, logging nothing, but alive: still running
    assert ll.get_run(run_id).status == "running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = time.time()
    while (run := ll.get_run(run_id)).status == "running":
        assert time.time() - killed_at < HOLD_GRACE_S + 10, "the run still reads running"
        time.sleep(0.2)
    assert run.status == "killed" and run.end_time is not None and run.end_time <= killed_at
    assert len(run.metric_history("loss")) == 100
