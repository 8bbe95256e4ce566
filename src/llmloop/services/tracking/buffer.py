"""Buffered metric logging: ``add_point`` appends a tuple to memory; one background thread writes batches.

A training loop can log every step at memory speed. A buffer flushes every
``interval_s``, whenever it holds ``max_points``, when the run ends, and at interpreter
exit, so nothing logged is lost on a normal exit or an exception. A SIGKILL loses at
most the last interval.

One flusher thread serves every buffer in the process: starting (and joining) a thread
per run cost more than the rest of a short run, and a sweep starts thousands of them.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable

from llmloop.services.tracking.schemas import PointTuple, RunBatch


class MetricBuffer:
    def __init__(
        self, write: Callable[[RunBatch], None], *, interval_s: float = 1.0, max_points: int = 10_000
    ) -> None:
        self._write = write
        self.interval = interval_s
        self._max = max_points
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._points: list[PointTuple] = []  # key, value, step, timestamp
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._error: BaseException | None = None
        self.due = time.monotonic() + interval_s
        self.full = False
        _flusher.add(self)

    def add_point(self, point: PointTuple) -> None:
        with self._lock:
            points = self._points
            points.append(point)
            full = len(points) == self._max
        if full:
            self.full = True
            _flusher.wake()

    def add_params(self, params: dict[str, str]) -> None:
        with self._lock:
            self._params.update(params)

    def add_tags(self, tags: dict[str, str]) -> None:
        with self._lock:
            self._tags.update(tags)

    def _take(self) -> RunBatch:
        with self._lock:
            batch = RunBatch.model_construct(
                metrics=[], points=self._points, params=self._params, tags=self._tags, end_status=None
            )
            self._points, self._params, self._tags = [], {}, {}
            self.full = False
        return batch

    def flush(self, *, end_status: str | None = None) -> None:
        """Write what is buffered now (and end the run, if asked) in one batch; re-raises a background failure."""
        with self._flush_lock:
            self.due = time.monotonic() + self.interval
            batch = self._take()
            if end_status is not None:
                batch.end_status = end_status  # type: ignore[assignment]
            if batch.points or batch.params or batch.tags or batch.end_status:
                try:
                    self._write(batch)
                except BaseException:
                    self._restore(batch)
                    raise
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def background_flush(self) -> None:
        try:
            self.flush()
        except BaseException as e:  # reported on the next foreground flush
            self._error = e

    def _restore(self, batch: RunBatch) -> None:
        with self._lock:
            self._points[:0] = batch.points
            self._params = {**batch.params, **self._params}
            self._tags = {**batch.tags, **self._tags}

    def close(self, *, end_status: str | None = None) -> None:
        _flusher.discard(self)
        self.flush(end_status=end_status)


IDLE_S = 60.0  # after this long without buffers the flush thread sleeps until one comes


class _Flusher:
    """The process's one flush thread: sleeps until the earliest buffer is due (or one is full).

    Waking a sleeping thread costs more than a short run on a busy machine, so ``add``
    notifies only when the new buffer is due before the thread wakes anyway; while idle
    the thread keeps waking at the shortest interval seen, so runs started in a loop
    never need a notify.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._buffers: set[MetricBuffer] = set()
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the waiting thread wakes by itself (0: it is not waiting)
        self._interval = float("inf")
        self._idle_since: float | None = None

    def add(self, buf: MetricBuffer) -> None:
        with self._cond:
            self._buffers.add(buf)
            self._interval = min(self._interval, buf.interval)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="llmloop-metric-flush", daemon=True)
                self._thread.start()
            elif buf.due < self._wakes_at:
                self._cond.notify()

    def discard(self, buf: MetricBuffer) -> None:
        with self._cond:
            self._buffers.discard(buf)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def live(self) -> list[MetricBuffer]:
        with self._cond:
            return list(self._buffers)

    def _loop(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [b for b in self._buffers if b.full or b.due <= now]
                if not due:
                    self._wakes_at = self._next_wake(now)
                    self._cond.wait(max(self._wakes_at - now, 0.001))
                    self._wakes_at = 0.0
                    continue
            for buf in due:
                buf.background_flush()

    def _next_wake(self, now: float) -> float:
        if self._buffers:
            self._idle_since = None
            return min(b.due for b in self._buffers)
        if self._idle_since is None:
            self._idle_since = now
        return now + (self._interval if now - self._idle_since < IDLE_S else 3600.0)

    def after_fork(self) -> None:
        """A forked child has no flush thread and may have inherited a held lock: start afresh."""
        self._cond = threading.Condition()
        self._buffers = set()
        self._thread = None
        self._wakes_at = 0.0
        self._idle_since = None


_flusher = _Flusher()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_flusher.after_fork)


@atexit.register
def _flush_all_at_exit() -> None:
    for buf in _flusher.live():
        try:
            buf.close(end_status="finished")
        except Exception:  # exit must not hang or raise on a broken store
            continue
