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
from llmloop.services.observe.schemas import SpanData, SpanRecord

log = logging.getLogger("llmloop.services.observe")
Queued = SpanRecord | SpanData  # the tracer's spans, and the rows OTLP ingest decoded
Sink = Callable[[list[Queued]], object]

_live: weakref.WeakSet[SpanWriter] = weakref.WeakSet()


class SpanWriter:
    def __init__(
        self, sink: Sink, *, interval_s: float = 1.0, max_batch: int = 1000, max_queue: int = 100_000
    ) -> None:
        self._sink = sink
        self._interval = interval_s
        self._max_batch = max_batch
        self._max_queue = max_queue
        # what was submitted together stays together: chunks of loose spans (up to max_batch) and exports
        self._queue: collections.deque[list[Queued]] = collections.deque()
        self._loose: list[Queued] | None = None  # the chunk submit() is filling, if still queued
        self._count = 0
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

    def submit(self, span: Queued) -> None:
        """Queue one finished span; never blocks on the store."""
        with self._lock:
            if self._count >= self._max_queue:
                self.dropped += 1
                return
            loose = self._loose
            if loose is None or len(loose) >= self._max_batch:
                loose = self._loose = []
                self._queue.append(loose)
            loose.append(span)
            self._count += 1
            full = self._count >= self._max_batch
            self._start()
        if full:
            self._wake.set()

    def submit_batch(self, spans: Sequence[Queued]) -> None:
        """Queue spans that arrived together (an OTLP export) and wake the thread at once.

        They are a batch already, so waiting out the interval would only delay them; they stay
        together (never split across two transactions, whatever their size), and under a stream
        of exports the thread writes the whole ones that piled up while it wrote the last.
        """
        with self._lock:
            room = max(0, self._max_queue - self._count)
            self.dropped += max(0, len(spans) - room)
            if room and spans:
                chunk = list(spans[:room])
                self._queue.append(chunk)
                self._count += len(chunk)
                self._loose = None  # later loose spans queue behind this export
            self._start()
        self._wake.set()

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._loop, name="llmloop-span-writer", daemon=True)
            self._thread.start()

    @property
    def pending(self) -> int:
        return self._count

    def _take(self) -> list[Queued]:
        """Whole queued chunks (loose spans, exports), as many as fit in ``max_batch``; at least one."""
        with self._lock:
            batch: list[Queued] = []
            while self._queue and (not batch or len(batch) + len(self._queue[0]) <= self._max_batch):
                chunk = self._queue.popleft()
                if chunk is self._loose:
                    self._loose = None
                batch += chunk
            self._count -= len(batch)
            return batch

    def _requeue(self, batch: list[Queued]) -> None:
        with self._lock:
            room = max(0, self._max_queue - self._count)
            self.dropped += max(0, len(batch) - room)
            if room and batch:
                self._queue.appendleft(batch[:room])
                self._count += len(batch[:room])

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
