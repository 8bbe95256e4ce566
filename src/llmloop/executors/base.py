"""The ``Executor`` protocol and the task/outcome it passes, both plain JSON on the wire.

Contract: ``run(task)`` runs ``task.target`` once, somewhere with the store settings of
``task.env``, and returns its outcome; it never raises for a failing step (the failure is the
outcome) and it is safe to call from several threads at once. A step that dies (SIGKILL, out of
memory, a lost Ray worker) comes back as ``ok=False`` with ``killed=True``: whatever the step
registered before dying was its own transaction, and the pipeline records no outputs for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

CallStyle = Literal["step", "kwargs"]


@dataclass(frozen=True)
class StepTask:
    """One attempt of one step.

    ``style`` says how the target is called: ``step`` hands built-ins a ``StepCall``; ``kwargs``
    calls a user's function with the inputs and config as keyword arguments.
    """

    target: str
    style: CallStyle
    step: str
    run_id: str
    project: str
    inputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    base_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0
    memory_mb: int | None = None
    timeout_s: float | None = None
    log_path: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> StepTask:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class StepCall:
    """What a built-in step function receives: its resolved inputs and config, and where it runs."""

    step: str
    run_id: str
    project: str
    inputs: dict[str, Any]
    config: dict[str, Any]
    base_dir: str | None


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    killed: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> StepOutcome:
        return cls(**json.loads(text))


class Executor(Protocol):
    name: str

    def run(self, task: StepTask) -> StepOutcome: ...
    def close(self) -> None: ...
