"""Progress of long generation (evaluations, gates) on stderr: a bar with ETA on a terminal, plain
lines every few percent elsewhere (CI logs, a pipe), so a minutes-long base evaluation shows life.

The services report ``progress(done, total)`` after each batch (``(0, total)`` first); this module
turns those calls into output. ``ll.evaluations.run(..., progress=True)`` and ``llmloop eval run``
use it; a callable given as ``progress`` is called as is, so an app can draw its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llmloop.services.evaluate.generation import ProgressFn
from llmloop.services.progress_lines import PlainProgress

Progress = bool | ProgressFn | None


@contextmanager
def _bar(description: str) -> Iterator[ProgressFn]:
    """A rich bar on stderr: count, elapsed, ETA; a new bar per sequence, kept when done."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    state: dict[str, Any] = {"task": None, "total": -1, "done": 0}

    def update(done: int, total: int) -> None:
        if state["task"] is None or total != state["total"] or done < state["done"]:
            state["task"] = bar.add_task(description, total=total)
            state["total"] = total
        state["done"] = done
        bar.update(state["task"], completed=done)

    with bar:
        yield update


@contextmanager
def reporting(progress: Progress, description: str = "evaluating") -> Iterator[ProgressFn | None]:
    """The callback to hand a service for ``progress``: None for False/None, a caller's own
    callable as is, and for True a bar (stderr is a terminal) or plain lines (it is not)."""
    if progress is None or progress is False:
        yield None
    elif progress is True:
        if sys.stderr.isatty():
            with _bar(description) as update:
                yield update
        else:
            yield PlainProgress(description, stream=sys.stderr)
    else:
        yield progress
