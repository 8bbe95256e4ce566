"""The local executor's warm workers: steps run in a subprocess that takes the next step when it
is done, but never hands a step another step's output, directory, stdin or grown memory, and a
worker that dies or times out is replaced."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.integration.pipelines.helpers import Work, folder

import llmloop as ll
from llmloop.executors.worker import RETIRE_RSS_MB

POOL = f'''
import os, sys, time
from pathlib import Path

HERE = Path(__file__).parent
HELD = []


def where(after=None, move=False, say=""):
    """This process's id and directory (then move elsewhere when told); prints ``say`` to its log."""
    print(say, flush=True)
    os.write(2, f"{{say}} on fd 2\\n".encode())  # native output reaches the log too
    cwd = os.getcwd()
    if move:
        os.chdir("/")
    return {{"pid": os.getpid(), "cwd": cwd, "stdin": sys.stdin.read()}}


def grow(after=None):
    """Keeps more memory than a worker may keep, so the next step must get a fresh process."""
    HELD.append(bytearray({RETIRE_RSS_MB + 200} * 2**20))
    return {{"pid": os.getpid()}}


def hang_once(after=None):
    marker = HERE / "hung.once"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(60)
    return {{"pid": os.getpid(), "hung": int(marker.read_text())}}
'''


def _work(tmp_path: Path) -> Work:
    work = folder(tmp_path)
    (work.dir / "pooled.py").write_text(POOL, encoding="utf-8")
    return work


def _step(name: str, fn: str, after: str | None = None, **config: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"name": name, "kind": f"pooled:{fn}", "config": config}
    if after is not None:
        step["inputs"] = {"after": f"steps.{after}.pid"}
    step["outputs"] = (
        {"pid": "value", "cwd": "value", "stdin": "value"} if fn == "where" else {"pid": "value"}
    )
    if fn == "hang_once":
        step["outputs"]["hung"] = "value"
    return step


def _run(work: Work, defn: dict[str, Any]) -> Any:
    run = ll.pipelines.run(work.pipeline({"parallelism": 1, **defn}), executor="local")
    assert run.status == "finished", [(s.name, s.error) for s in run.steps]
    return run


def test_steps_run_back_to_back_in_one_warm_process_each_with_its_own_log(tmp_path: Path) -> None:
    work = _work(tmp_path)
    run = _run(
        work,
        {
            "name": "warm",
            "steps": [
                _step("a", "where", say="first", move=True),
                _step("b", "where", after="a", say="second"),
                _step("c", "where", after="b", say="third"),
            ],
        },
    )
    pids = {s.name: s.outputs["pid"] for s in run.steps}
    assert len(set(pids.values())) == 1 and pids["a"] != os.getpid()  # one worker, not this process
    assert run.step("b").outputs["cwd"] == run.step("a").outputs["cwd"]  # a's chdir did not follow
    assert all(s.outputs["stdin"] == "" for s in run.steps)  # stdin is not the task pipe
    logs = Path(ll.get_settings().home).resolve() / "pipelines" / run.id
    assert (logs / "a.log").read_text() == "first\nfirst on fd 2\n"
    assert (logs / "c.log").read_text() == "third\nthird on fd 2\n"


def test_a_worker_that_grew_past_the_limit_is_replaced(tmp_path: Path) -> None:
    work = _work(tmp_path)
    run = _run(
        work,
        {"name": "grown", "steps": [_step("big", "grow"), _step("next", "where", after="big")]},
    )
    assert run.step("next").outputs["pid"] != run.step("big").outputs["pid"]


def test_a_timed_out_attempt_kills_its_worker_and_the_retry_gets_a_fresh_one(tmp_path: Path) -> None:
    work = _work(tmp_path)
    hang = {**_step("hang", "hang_once"), "timeout_s": 2, "retries": 1, "retry_backoff_s": 0}
    run = _run(work, {"name": "hung", "steps": [hang]})
    step = run.step("hang")
    assert step.attempts == 2
    hung = step.outputs["hung"]
    assert step.outputs["pid"] != hung
    assert not Path(f"/proc/{hung}").exists()  # the hung worker was killed, not left behind
