"""Job kinds: what a schedule of each ``kind`` does when it fires.

    register_job_kind("nightly-report", report)      # fn(ctx, schedule) -> a one-line result

A kind is a plain function; the scheduler calls it in a worker thread with the server's
Context. ``pipeline`` (run a pipeline file) and ``monitor`` (a pass over a project's monitors, then
its triggers) are built in; other kinds register the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llmloop.errors import InvalidInput

if TYPE_CHECKING:
    from llmloop.context import Context
    from llmloop.services.schedules.schemas import Schedule

JobFn = Callable[["Context", "Schedule"], str]
_KINDS: dict[str, JobFn] = {}


def register_job_kind(kind: str, fn: JobFn) -> None:
    """Make ``kind`` schedulable; registering a kind again replaces its function (tests, reloads)."""
    _KINDS[kind] = fn


def _builtins() -> None:
    if "pipeline" not in _KINDS:
        from llmloop.services.pipelines.jobs import run_scheduled_pipeline

        _KINDS["pipeline"] = run_scheduled_pipeline
    if "monitor" not in _KINDS:
        from llmloop.services.monitor.jobs import run_scheduled_monitors

        _KINDS["monitor"] = run_scheduled_monitors


def job_kind(kind: str) -> JobFn:
    _builtins()
    if kind not in _KINDS:
        raise InvalidInput(
            f"unknown schedule kind {kind!r}; kinds: {', '.join(sorted(_KINDS))}", details={"field": "kind"}
        )
    return _KINDS[kind]
