"""Executors: where a pipeline step runs. ``local`` (steps in warm subprocesses, the default),
``inline`` (threads of this process: no process start per step, for many tiny steps) or ``ray``.

    executor = get_executor("local")          # or "inline", "ray", "ray://head:10001" (LLMLOOP_EXECUTOR)
    outcome = executor.run(task)              # blocks; many threads may call it at once

A step's metadata goes through the configured database and its artifacts through the artifact
store, whichever executor ran it: a task carries the store settings, never data, and its answer
is the JSON of the step's outputs (store references and small values).
"""

from __future__ import annotations

from llmloop.errors import InvalidInput
from llmloop.executors.base import Executor, StepOutcome, StepTask


def get_executor(name: str) -> Executor:
    """The executor a setting names: ``local``, ``ray`` (a local instance) or ``ray://host:port``."""
    if name in ("", "local"):
        from llmloop.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "inline":
        from llmloop.executors.inline import InlineExecutor

        return InlineExecutor()
    if name == "ray" or name.startswith("ray://"):
        from llmloop.executors.ray import RayExecutor

        return RayExecutor(None if name == "ray" else name)
    raise InvalidInput(
        f"unknown executor {name!r}: use 'local', 'inline', 'ray' or 'ray://host:port'",
        details={"key": "executor"},
    )


__all__ = ["Executor", "StepOutcome", "StepTask", "get_executor"]
