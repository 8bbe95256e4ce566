"""Run one step task in this process: ``python -m llmloop.executors.worker TASK.json OUTCOME.json``.

The local executor starts this per step and the Ray executor calls ``execute`` inside a Ray
worker. The outcome file is written whole (temp + rename), so a step killed half-way leaves no
outcome at all and the caller reads the death from the exit status.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

from llmloop.executors.base import StepCall, StepOutcome, StepTask
from llmloop.plugins import load_object_from


def execute(task: StepTask, *, apply_env: bool = True) -> StepOutcome:
    """Call the task's target with the store settings of ``task.env``; a raised error is the outcome.

    ``apply_env=False`` (the inline executor) keeps this process's settings, which are the task's.
    """
    if apply_env:
        from llmloop.config import reset_settings

        os.environ.update(task.env)
        reset_settings()
    try:
        fn = load_object_from(task.target, task.base_dir if task.style == "kwargs" else None)
        if task.style == "step":
            call = StepCall(task.step, task.run_id, task.project, task.inputs, task.config, task.base_dir)
            result: Any = fn(call)
        else:
            result = fn(**task.inputs, **task.config, **_project(fn, task))
        outputs = result if isinstance(result, dict) else {"value": result}
        import json

        json.dumps(outputs)  # outputs travel as JSON: refuse what cannot
        return StepOutcome(ok=True, outputs=outputs)
    except Exception as e:  # the step's failure is its outcome, reported to the pipeline
        from llmloop.errors import LlmloopError

        if isinstance(e, LlmloopError):
            return StepOutcome(ok=False, error=f"{type(e).__name__}: {e.message}")
        tail = "".join(traceback.format_exception(e)[-3:])
        return StepOutcome(ok=False, error=f"{type(e).__name__}: {e}\n{tail}".strip())


def write_outcome(outcome: StepOutcome, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(outcome.to_json(), encoding="utf-8")
    os.replace(tmp, path)


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


def main(argv: list[str]) -> int:
    task = StepTask.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    outcome = execute(task)
    write_outcome(outcome, Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
