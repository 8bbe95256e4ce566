"""The local executor: each step attempt in its own Python subprocess on this machine.

A subprocess rather than a thread so a step can be killed (timeout, Ctrl-C) without leaving the
pipeline's process in an unknown state, and so a step that crashes the interpreter (a native
library, the OOM killer) fails that step only. Its stdout and stderr go to the task's log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from llmloop.executors.base import StepOutcome, StepTask


def _tail(task: StepTask, size: int = 1500) -> str:
    """The end of the step's log, for an error that has no outcome of its own to show."""
    if not task.log_path:
        return ""
    try:
        with open(task.log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            text = fh.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"; log ({task.log_path}) ends:\n{text}" if text else ""


class LocalExecutor:
    name = "local"

    def run(self, task: StepTask) -> StepOutcome:
        with tempfile.TemporaryDirectory(prefix="llmloop-step-") as tmp:
            task_file, out_file = Path(tmp) / "task.json", Path(tmp) / "outcome.json"
            task_file.write_text(task.to_json(), encoding="utf-8")
            env = {**os.environ, **task.env}
            log = open(task.log_path, "ab") if task.log_path else subprocess.DEVNULL  # noqa: SIM115
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "llmloop.executors.worker", str(task_file), str(out_file)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
                try:
                    rc = proc.wait(timeout=task.timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    return StepOutcome(ok=False, error=f"timed out after {task.timeout_s:g} s", killed=True)
                except BaseException:  # Ctrl-C in the pipeline: take the step down with it
                    proc.kill()
                    proc.wait()
                    raise
            finally:
                if log is not subprocess.DEVNULL:
                    log.close()  # type: ignore[union-attr]
            if out_file.exists():
                return StepOutcome.from_json(out_file.read_text(encoding="utf-8"))
            if rc < 0:
                name = signal.Signals(-rc).name if -rc in signal.valid_signals() else str(-rc)
                return StepOutcome(ok=False, error=f"step process killed by {name}{_tail(task)}", killed=True)
            return StepOutcome(
                ok=False,
                error=f"step process exited with status {rc} and no outcome{_tail(task)}",
                killed=True,
            )

    def close(self) -> None:
        return None
