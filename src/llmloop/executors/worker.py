"""Run step tasks in this process: ``execute`` one, or ``python -m llmloop.executors.worker TASKS ANSWERS``
to serve the local executor's tasks one after another.

The Ray executor calls ``execute`` inside a Ray worker. The local executor keeps a few of these
processes warm and sends each a task as one JSON line on the pipe ``TASKS``; the answer comes back
as one JSON line on the pipe ``ANSWERS``. Neither is stdin or stdout, so a step that reads its
stdin (it gets end-of-file) or prints cannot take a task or be mistaken for an answer. While a task runs,
the process's stdout and stderr (its file descriptors, so native libraries' output too) go to the
task's log file. A process that dies mid-task simply never answers: the executor reads the death
from its exit status, and the next task gets a fresh process.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from llmloop.executors.base import StepCall, StepOutcome, StepTask
from llmloop.plugins import load_object, on_path

# After a task that left this process larger than this, it answers and exits, so a training step's
# memory (torch's allocator keeps what it freed) never weighs on the steps after it; small steps
# run back to back in one warm process.
RETIRE_RSS_MB = 1024


def execute(task: StepTask, *, apply_env: bool = True) -> StepOutcome:
    """Call the task's target with the store settings of ``task.env``; a raised error is the outcome.

    ``apply_env=False`` (the inline executor, or a warm worker whose settings are already these)
    keeps this process's settings, which are the task's.
    """
    if apply_env:
        from llmloop.config import reset_settings

        os.environ.update(task.env)
        reset_settings()
    try:
        with on_path(task.base_dir if task.style == "kwargs" else None):
            fn = load_object(task.target)
            if task.style == "step":
                call = StepCall(task.step, task.run_id, task.project, task.inputs, task.config, task.base_dir)
                result: Any = fn(call)
            else:
                result = fn(**task.inputs, **task.config, **_project(fn, task))
        outputs = result if isinstance(result, dict) else {"value": result}
        json.dumps(outputs)  # outputs travel as JSON: refuse what cannot
        return StepOutcome(ok=True, outputs=outputs)
    except Exception as e:  # the step's failure is its outcome, reported to the pipeline
        from llmloop.errors import LlmloopError

        if isinstance(e, LlmloopError):
            return StepOutcome(ok=False, error=f"{type(e).__name__}: {e.message}")
        tail = "".join(traceback.format_exception(e)[-3:])
        return StepOutcome(ok=False, error=f"{type(e).__name__}: {e}\n{tail}".strip())


def _project(fn: Any, task: StepTask) -> dict[str, str]:
    """A function with a ``project`` parameter that neither inputs nor config set gets the
    pipeline's: its SDK calls then land where the pipeline runs, on any executor (the inline one
    cannot set ``LLMLOOP_DEFAULT_PROJECT`` for one thread)."""
    import inspect

    if "project" in task.inputs or "project" in task.config:
        return {}
    try:
        takes = "project" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or C function without a signature
        return {}
    return {"project": task.project} if takes else {}


@contextmanager
def _output_to(path: str | None) -> Iterator[None]:
    """File descriptors 1 and 2 appended to ``path`` for the block, then back where they were."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    saved = os.dup(1), os.dup(2)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):  # not Linux: judge by the peak instead
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return float(peak) / (2**20 if sys.platform == "darwin" else 2**10)


def serve(tasks_fd: int, answers_fd: int) -> int:
    """Answer tasks until their pipe closes (the executor is done) or a task leaves us too big."""
    home = os.getcwd()
    applied: dict[str, str] | None = None
    with (
        os.fdopen(tasks_fd, "r", encoding="utf-8") as tasks,
        os.fdopen(answers_fd, "w", encoding="utf-8") as answers,
    ):
        for line in tasks:
            task = StepTask.from_json(line)
            with _output_to(task.log_path):
                outcome = execute(task, apply_env=task.env != applied)
            applied = task.env
            os.chdir(home)  # a step that changed directory does not move the next one
            retire = _rss_mb() > RETIRE_RSS_MB
            answers.write(json.dumps({"outcome": asdict(outcome), "retire": retire}) + "\n")
            answers.flush()
            if retire:
                break
    return 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
