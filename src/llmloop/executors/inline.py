"""The inline executor: each step in a thread of the pipeline's own process.

For pipelines of many small steps (a Python function that returns a value in milliseconds),
where starting an interpreter per step would cost more than the step. What it gives up: a step
cannot be killed on timeout (``timeout_s`` is refused at run time: use ``local``), and a step
that crashes the interpreter takes the pipeline with it (``resume`` picks it up).
"""

from __future__ import annotations

from llmloop.executors.base import StepOutcome, StepTask
from llmloop.executors.worker import execute


class InlineExecutor:
    name = "inline"

    def run(self, task: StepTask) -> StepOutcome:
        if task.timeout_s is not None:
            return StepOutcome(
                ok=False, error="the inline executor cannot enforce timeout_s; use the local executor"
            )
        return execute(task, apply_env=False)

    def close(self) -> None:
        return None
