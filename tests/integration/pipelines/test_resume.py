"""Retries with backoff, and resume after a SIGKILL: finished steps keep their outputs, nothing half-made stays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.integration.pipelines.helpers import basic, folder

import llmloop as ll
from llmloop.services.tracking.schemas import RunSearch


def _flaky(fails: int, retries: int) -> dict[str, Any]:
    defn = basic()
    defn["steps"].append(
        {
            "name": "flaky",
            "kind": "steps:flaky",
            "inputs": {"fails": fails},
            "after": ["count"],
            "retries": retries,
            "retry_backoff_s": 0.05,
        }
    )
    defn["steps"].append({"name": "last", "kind": "steps:constant", "inputs": {"value": "steps.flaky.value"}})
    return defn


def test_a_step_that_fails_twice_then_succeeds_is_retried(tmp_path: Path) -> None:
    work = folder(tmp_path)
    messages: list[str] = []
    run = ll.pipelines.run(
        work.pipeline(_flaky(fails=2, retries=2)), executor="inline", report=lambda s, m: messages.append(m)
    )
    assert run.status == "finished"
    step = run.step("flaky")
    assert (step.state, step.attempts, step.outputs) == ("finished", 3, {"value": 3})
    assert run.step("last").outputs == {"value": 3}
    retried = [m for m in messages if m.startswith("attempt")]
    assert retried == [
        "attempt 1 failed (RuntimeError: flaky failure 1); retry in 0.05 s",
        "attempt 2 failed (RuntimeError: flaky failure 2); retry in 0.1 s",
    ]
    attempts = ll.get_client().runs.search_runs(RunSearch(parent_id=run.id, limit=50))
    flaky_runs = sorted((r.params["attempt"], r.status) for r in attempts.items if r.tags["step"] == "flaky")
    assert flaky_runs == [("1", "failed"), ("2", "failed"), ("3", "finished")]


def test_a_step_out_of_retries_fails_the_pipeline_and_skips_what_follows(tmp_path: Path, cli: Any) -> None:
    work = folder(tmp_path)
    path = work.pipeline(_flaky(fails=5, retries=1))
    out = cli("pipeline", "run", str(path), "--executor", "inline", "--json")
    assert out.exit_code == 1
    run = json.loads(out.stdout)
    states = {s["name"]: s["state"] for s in run["steps"]}
    assert states == {
        "data": "finished", "count": "finished", "twice": "finished", "other": "finished",
        "flaky": "failed", "last": "skipped",
    }  # fmt: skip
    assert run["status"] == "failed"
    assert "RuntimeError: flaky failure 2" in next(s for s in run["steps"] if s["name"] == "flaky")["error"]


def _killed_pipeline() -> dict[str, Any]:
    return {
        "name": "killme",
        "steps": [
            {"name": "data", "kind": "ingest", "config": {"name": "rows", "path": "rows.jsonl"}},
            {
                "name": "slow",
                "kind": "steps:slow_register",
                "inputs": {"data": "steps.data.dataset"},
                "outputs": {"dataset": "dataset"},
            },
            {
                "name": "count",
                "kind": "steps:count_rows",
                "inputs": {"data": "steps.slow.dataset"},
                "outputs": {"rows": "value", "label": "value"},
            },
        ],
    }


@pytest.mark.slow
def test_resume_after_sigkill_starts_at_the_first_unfinished_step(tmp_path: Path, cli: Any) -> None:
    work = folder(tmp_path)
    path = work.pipeline(_killed_pipeline())
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmloop", "pipeline", "run", str(path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the pipeline and its step process die together
    )
    marker = work.dir / "slow.started"
    deadline = time.time() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.time() < deadline, "the slow step never started"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    listed = json.loads(cli("pipeline", "runs", "--json").stdout)["items"]
    assert len(listed) == 1
    run_id = listed[0]["id"]
    assert listed[0]["status"] == "killed"  # its process is gone
    states = {s["name"]: s["state"] for s in listed[0]["steps"]}
    assert states == {"data": "finished", "slow": "running", "count": "pending"}
    assert cli("data", "show", "derived").exit_code == 2  # the killed step registered nothing

    first_data_run = listed[0]["steps"][0]["run_id"]
    out = cli("pipeline", "resume", run_id, "--json", "--executor", "inline")  # in-process: faster here
    assert out.exit_code == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["id"] == run_id and run["status"] == "finished"
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["data"]["run_id"] == first_data_run  # kept, not run again
    assert steps["slow"]["outputs"] == {"dataset": "dataset:derived@1"}
    assert steps["count"]["outputs"]["rows"] == 1
    assert work.calls() == ["slow_register", "slow_register", "count_rows"]
    assert [v.version for v in ll.get_client().datasets.show_dataset("derived").versions] == [1]


def test_a_step_process_that_dies_is_a_failure_with_its_log(tmp_path: Path) -> None:
    """On the local executor a step that exits without an outcome fails that step, its log tail quoted."""
    work = folder(tmp_path)
    (work.dir / "dies.py").write_text(
        "import os, sys\n\ndef now():\n    print('about to go', flush=True)\n    os._exit(3)\n"
    )
    defn = {"name": "dies", "steps": [{"name": "boom", "kind": "dies:now"}]}
    run = ll.pipelines.run(work.pipeline(defn), executor="local")
    step = run.step("boom")
    assert (run.status, step.state) == ("failed", "failed")
    assert step.error.startswith("step process exited with status 3 and no outcome; log (")
    assert step.error.endswith("about to go")
