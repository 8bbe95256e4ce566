"""Progress as plain lines, for a stream that is not a terminal (CI logs, a pipe, a file).

A bar redrawn in place shows nothing there until it ends; a line every few percent with the
elapsed time and an ETA shows that a minutes-long evaluation or training is alive. Evaluations
(``llmloop.sdk.progress``) and training (``services.train.callbacks``) both print through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO


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
