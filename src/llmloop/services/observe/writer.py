"""The batched span writer: finished spans go into memory; a background thread writes them in batches.

Ending a span costs one append, so tracing never sits on a request's or a chain's path.
The thread wakes every ``interval_s`` (or as soon as ``max_batch`` spans wait) and hands
batches to a sink, normally ``observe.service.record_spans`` on the local store. The queue
is bounded: when the store cannot keep up, new spans are dropped and counted (like
OpenTelemetry's BatchSpanProcessor) rather than growing memory without limit.

A batch that fails because the store is unavailable goes back to the queue and is retried;
a batch the store rejects is dropped and counted. ``flush()`` writes everything queued on
the caller's thread and re-raises the last background failure; every live writer is
flushed at interpreter exit, so a clean exit loses nothing and a SIGKILL loses at most one
interval of spans.
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import weakref
from collections.abc import Callable, Sequence

from llmloop.errors import Unavailable
from llmloop.services.observe.schemas import SpanRecord

log = logging.getLogger("llmloop.services.observe")
Sink = Callable[[list[SpanRecord]], object]

_live: weakref.WeakSet[SpanWriter] = weakref.WeakSet()


class SpanWriter:
    def __init__(
        self, sink: Sink, *, interval_s: float = 1.0, max_batch: int = 1000, max_queue: int = 100_000
    ) -> None:
        self._sink = sink
        self._interval = interval_s
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._queue: collections.deque[SpanRecord] = collections.deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._error: BaseException | None = None
        self.written = 0
        self.dropped = 0
        self.batches = 0
        _live.add(self)

    def submit(self, span: SpanRecord) -> None:
        """Queue one finished span; never blocks on the store."""
        with self._lock:
            if len(self._queue) >= self._max_queue:
                self.dropped += 1
                return
            self._queue.append(span)
            full = len(self._queue) >= self._max_batch
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name="llmloop-span-writer", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    def submit_batch(self, spans: Sequence[SpanRecord]) -> None:
        """Queue spans that arrived together (an OTLP export) and wake the thread at once.

        They are a batch already, so waiting out the interval would only delay them; under a
        stream of exports the thread keeps writing whatever piled up while it wrote the last batch.
        """
        with self._lock:
            room = max(0, self._max_queue - len(self._queue))
            self.dropped += max(0, len(spans) - room)
            self._queue.extend(spans[:room])
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name="llmloop-span-writer", daemon=True)
                self._thread.start()
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _take(self) -> list[SpanRecord]:
        with self._lock:
            n = min(self._max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]

    def _requeue(self, batch: list[SpanRecord]) -> None:
        with self._lock:
            room = max(0, self._max_queue - len(self._queue))
            self.dropped += max(0, len(batch) - room)
            self._queue.extendleft(reversed(batch[:room]))

    def _drain(self) -> None:
        with self._flush_lock:
            while batch := self._take():
                try:
                    self._sink(batch)
                except Unavailable:
                    self._requeue(batch)
                    raise
                except BaseException:
                    self.dropped += len(batch)
                    raise
                self.written += len(batch)
                self.batches += 1

    def flush(self) -> None:
        """Write every queued span now; raises the last background failure, if any."""
        self._drain()
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
            except BaseException as e:  # surfaced by the next flush(); the thread keeps going
                if self._error is None:
                    log.warning("writing spans failed: %s", e)
                self._error = e

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        try:
            self.flush()
        finally:
            _live.discard(self)


def flush_all() -> None:
    """Flush every live writer; raises the first failure after trying them all."""
    errors: list[BaseException] = []
    for writer in list(_live):
        try:
            writer.flush()
        except BaseException as e:
            errors.append(e)
    if errors:
        raise errors[0]


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_live):
        try:
            writer.close()
        except Exception as e:  # exit must not hang or raise on a broken store
            log.warning("spans lost at exit: %s", e)
