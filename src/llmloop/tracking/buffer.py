"""Buffered metric logging: ``log_metric`` appends to memory; a background thread writes batches.

A training loop can log every step at memory speed. The buffer flushes every
``flush_interval_s``, whenever it holds ``max_points``, when the run ends, and at
interpreter exit, so nothing logged is lost on a normal exit or an exception. A
SIGKILL loses at most the last interval.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable

from llmloop.tracking.schemas import MetricPoint, RunBatch

_live: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()


class MetricBuffer:
    def __init__(
        self, write: Callable[[RunBatch], None], *, interval_s: float = 1.0, max_points: int = 10_000
    ) -> None:
        self._write = write
        self._interval = interval_s
        self._max = max_points
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._points: list[MetricPoint] = []
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._wake = threading.Event()
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="llmloop-metric-flush", daemon=True)
        self._thread.start()
        _live.add(self)

    def add_metric(self, point: MetricPoint) -> None:
        with self._lock:
            self._points.append(point)
            full = len(self._points) >= self._max
        if full:
            self._wake.set()

    def add_params(self, params: dict[str, str]) -> None:
        with self._lock:
            self._params.update(params)

    def add_tags(self, tags: dict[str, str]) -> None:
        with self._lock:
            self._tags.update(tags)

    def _take(self) -> RunBatch:
        with self._lock:
            batch = RunBatch.model_construct(
                metrics=self._points, params=self._params, tags=self._tags, end_status=None
            )
            self._points, self._params, self._tags = [], {}, {}
        return batch

    def flush(self, *, end_status: str | None = None) -> None:
        """Write what is buffered now (and end the run, if asked) in one batch; re-raises a background failure."""
        with self._flush_lock:
            batch = self._take()
            if end_status is not None:
                batch.end_status = end_status  # type: ignore[assignment]
            if batch.metrics or batch.params or batch.tags or batch.end_status:
                try:
                    self._write(batch)
                except BaseException:
                    self._restore(batch)
                    raise
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _restore(self, batch: RunBatch) -> None:
        with self._lock:
            self._points[:0] = batch.metrics
            self._params = {**batch.params, **self._params}
            self._tags = {**batch.tags, **self._tags}

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.flush()
            except BaseException as e:  # reported on the next foreground flush
                self._error = e

    def close(self, *, end_status: str | None = None) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.flush(end_status=end_status)
        _live.discard(self)


@atexit.register
def _flush_all_at_exit() -> None:
    for buf in list(_live):
        try:
            buf.close(end_status="finished")
        except Exception:  # exit must not hang or raise on a broken store
            continue
