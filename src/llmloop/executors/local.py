"""The local executor: each step attempt in a Python subprocess on this machine, kept warm.

A subprocess rather than a thread so a step can be killed (timeout, Ctrl-C) without leaving the
pipeline's process in an unknown state, and so a step that crashes the interpreter (a native
library, the OOM killer) fails that step only. Its stdout and stderr go to the task's log file.

Starting an interpreter and importing llmloop costs seconds, which a pipeline of small steps
would pay per step; so a worker (``worker.serve``) that finished a step takes the next one, and
only a worker that died, timed out, or grew past ``worker.RETIRE_RSS_MB`` is replaced. At most
as many workers live as steps run at once, and none outlives the run (``close``, and on Linux the
parent-death signal if the pipeline is killed).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from llmloop.executors.base import StepOutcome, StepTask
from llmloop.processes import die_with_parent


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


class _TimedOut(Exception):
    pass


class _Worker:
    """One ``worker.serve`` process and its two pipes."""

    def __init__(self, env: dict[str, str]) -> None:
        task_r, self._task_w = os.pipe()
        self._answer_r, answer_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "llmloop.executors.worker", str(task_r), str(answer_w)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(task_r, answer_w),
                preexec_fn=die_with_parent(),
            )
        except BaseException:
            os.close(self._task_w)
            os.close(self._answer_r)
            raise
        finally:
            os.close(task_r)
            os.close(answer_w)
        self.tasks: IO[str] = os.fdopen(self._task_w, "w", encoding="utf-8")
        self.answers: IO[str] = os.fdopen(self._answer_r, "r", encoding="utf-8")

    def ask(self, task: StepTask) -> str:
        """Send the task; its answer line, or ``""`` when the process died first."""
        try:
            self.tasks.write(task.to_json() + "\n")
            self.tasks.flush()
        except BrokenPipeError:
            return ""
        if task.timeout_s is not None:
            deadline = time.monotonic() + task.timeout_s
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _TimedOut
                ready, _, _ = select.select([self.answers], [], [], left)
                if ready:
                    break
        return self.answers.readline()

    def status(self) -> int:
        """The exit status of a process that stopped answering."""
        return self.proc.wait()

    def stop(self, *, kill: bool = False) -> None:
        if kill and self.proc.poll() is None:
            self.proc.kill()
        for pipe in (self.tasks, self.answers):
            with contextlib.suppress(OSError):
                pipe.close()  # an idle worker reads end-of-file and exits
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def _take(self, task: StepTask) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.proc.poll() is None:
                    return worker
                worker.stop()
        return _Worker({**os.environ, **task.env})

    def run(self, task: StepTask) -> StepOutcome:
        worker = self._take(task)
        try:
            line = worker.ask(task)
        except _TimedOut:
            worker.stop(kill=True)
            return StepOutcome(ok=False, error=f"timed out after {task.timeout_s:g} s", killed=True)
        except BaseException:  # Ctrl-C in the pipeline: take the step down with it
            worker.stop(kill=True)
            raise
        if not line:
            worker.stop()
            return self._died(task, worker.status())
        answer = json.loads(line)
        if answer["retire"]:
            worker.stop()
        else:
            with self._lock:
                self._idle.append(worker)
        return StepOutcome(**answer["outcome"])

    @staticmethod
    def _died(task: StepTask, rc: int) -> StepOutcome:
        if rc < 0:
            name = signal.Signals(-rc).name if -rc in signal.valid_signals() else str(-rc)
            return StepOutcome(ok=False, error=f"step process killed by {name}{_tail(task)}", killed=True)
        return StepOutcome(
            ok=False, error=f"step process exited with status {rc} and no outcome{_tail(task)}", killed=True
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()
