"""``ll.start_run``: the run object a user's code logs to.

Params, tags and metrics go through a ``MetricBuffer`` so logging costs microseconds;
the run is written when it starts, then in batches, and ended (``finished`` or
``failed`` when an exception escapes the ``with`` block) in the same final batch.
``log_metric`` checks its input with a few type tests, not a pydantic model: it runs once
per training step and per metric.
"""

from __future__ import annotations

import contextvars
import operator
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from llmloop.client import Client, get_client
from llmloop.config import get_settings
from llmloop.errors import InvalidInput
from llmloop.services.tracking.buffer import MetricBuffer
from llmloop.services.tracking.environment import capture_environment
from llmloop.services.tracking.schemas import (
    MetricPoint,
    Run,
    RunArtifact,
    RunCreate,
    check_key,
    metric_value,
    param_value,
)

_now = time.time

_active: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar("llmloop_active_run", default=None)


class ActiveRun:
    def __init__(self, client: Client, run: Run, *, interval_s: float) -> None:
        self.client = client
        self.id = run.id
        self.name = run.name
        self.project = run.project
        self._step: dict[str, int] = {}
        self._buffer = MetricBuffer(
            lambda batch: client.runs.log_batch(self.id, batch), interval_s=interval_s
        )
        self._token: contextvars.Token[ActiveRun | None] | None = None
        self.ended = False
        # through a server, the run lives as long as this hold: a killed process ends it as killed
        self._hold = client.runs.hold(run.id)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        self._buffer.add_params({check_key(k, "param"): param_value(k, v) for k, v in params.items()})

    def set_tag(self, key: str, value: str) -> None:
        self._buffer.add_tags({check_key(key, "tag"): str(value)})

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Buffer one point; ``step`` defaults to one more than this key's last step."""
        last = self._step.get(key)
        if last is None:  # a key is checked once, the first time it is logged
            check_key(key, "metric")
            last = -1
        if step is None:
            step = last + 1
        elif step.__class__ is not int or step < 0:
            step = _check_step(key, step)
        if value.__class__ is not float:
            value = metric_value(value, key)
        self._step[key] = step
        self._buffer.add_point((key, value, step, _now()))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for k, v in metrics.items():
            self.log_metric(k, v, step=step)

    def log_artifact(self, path: str | Path, name: str | None = None) -> RunArtifact:
        return self.client.runs.log_artifact(self.id, Path(path), name)

    def flush(self) -> None:
        self._buffer.flush()

    def end(self, status: str = "finished") -> None:
        if self.ended:
            return
        self.ended = True
        try:
            self._buffer.close(end_status=status)
        finally:
            self._hold.release()

    def get(self) -> Run:
        self.flush()
        return self.client.runs.get_run(self.id)

    def __enter__(self) -> ActiveRun:
        self._token = _active.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _active.reset(self._token)
        if exc_type is KeyboardInterrupt:
            self.end("killed")
        else:
            self.end("failed" if exc_type is not None else "finished")


def _check_step(key: str, step: Any) -> int:
    """A step as an int >= 0; NumPy and other integer types are welcome, bools and floats are not."""
    try:
        value = -1 if isinstance(step, bool) else operator.index(step)
    except TypeError:
        value = -1
    if value < 0:
        raise InvalidInput(
            f"metric {key!r} step must be a whole number >= 0, got {step!r}",
            details={"field": "step", "key": key},
        )
    return value


def start_run(
    project: str | None = None,
    name: str | None = None,
    *,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    kind: str = "run",
    parent: ActiveRun | str | None = None,
    nested: bool = False,
    client: Client | None = None,
) -> ActiveRun:
    """Start a run; use it as a context manager. ``nested=True`` parents it under the active run."""
    settings = get_settings()
    if parent is None and nested:
        parent = _active.get()
    parent_id = parent.id if isinstance(parent, ActiveRun) else parent
    if project is None:
        project = parent.project if isinstance(parent, ActiveRun) else settings.default_project
    client = client or get_client(settings)
    run = client.runs.create_run(
        RunCreate(
            project=project,
            name=name,
            kind=kind,
            parent_id=parent_id,
            params=params or {},
            tags=tags or {},
            env=capture_environment(),
        )
    )
    return ActiveRun(client, run, interval_s=settings.flush_interval_s)


def active_run() -> ActiveRun | None:
    return _active.get()


class RunHandle:
    """A finished (or other process's) run read back: its record plus its metric series."""

    def __init__(self, client: Client, run: Run) -> None:
        self.client = client
        self.record = run
        self.id = run.id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.record, name)

    def metric_history(self, key: str) -> list[MetricPoint]:
        return self.client.runs.metric_history(self.id, key)


def get_run(run_id: str, *, client: Client | None = None) -> RunHandle:
    client = client or get_client()
    return RunHandle(client, client.runs.get_run(run_id))
