"""Progress of long generation (evaluations, gates) on stderr: a bar with ETA on a terminal, plain
lines every few percent elsewhere (CI logs, a pipe), so a minutes-long base evaluation shows life.

The services report ``progress(done, total)`` after each batch (``(0, total)`` first); this module
turns those calls into output. ``ll.evaluations.run(..., progress=True)`` and ``llmloop eval run``
use it; a callable given as ``progress`` is called as is, so an app can draw its own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from llmloop.services.evaluate.generation import ProgressFn

Progress = bool | ProgressFn | None


def _eta(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


class PlainProgress:
    """One line per ``every`` percent (and at the end): ``evaluating: 40/100 (40%), 12s, ETA 18s``.

    A new sequence (``done`` going back, or a new ``total``: a gate's second evaluation) starts
    its own clock.
    """

    def __init__(
        self,
        description: str,
        *,
        stream: TextIO,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description, self.stream, self.every, self.clock = description, stream, every, clock
        self._total = -1
        self._done = 0
        self._started = 0.0
        self._next = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total != self._total or done < self._done:
            self._total, self._started, self._next = total, self.clock(), self.every
        self._done = done
        if total <= 0 or done <= 0:
            return
        pct = 100.0 * done / total
        if pct < self._next and done < total:
            return
        while self._next <= pct:
            self._next += self.every
        elapsed = self.clock() - self._started
        eta = elapsed / done * (total - done)
        print(
            f"{self.description}: {done}/{total} ({pct:.0f}%), {_eta(elapsed)}, ETA {_eta(eta)}",
            file=self.stream,
            flush=True,
        )


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
