"""The tracer users' code calls: ``with ll.span("name") as s:`` and ``@ll.trace``.

Spans nest through a context variable, so threads and asyncio tasks each see their own
current span. Ending a span only queues it on the process's ``SpanWriter``; the store is
written in batches on a background thread (``flush()`` forces it, e.g. in tests). Attribute
values are kept to what OpenTelemetry allows (str, bool, int, float and lists of them);
anything else is stored as its JSON text, and long strings are cut at ``MAX_ATTRIBUTE_CHARS``.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from llmloop.services.observe import semconv
from llmloop.services.observe.schemas import SpanEvent, SpanKind, SpanRecord
from llmloop.services.observe.writer import Queued, SpanWriter, flush_all

if TYPE_CHECKING:
    from llmloop.context import Context

MAX_ATTRIBUTE_CHARS = 16_384
F = TypeVar("F", bound=Callable[..., Any])

_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("llmloop_span", default=None)
_writer: SpanWriter | None = None
_ctx_writers: dict[str, SpanWriter] = {}
_writer_lock = threading.Lock()
_ids = random.SystemRandom()


def new_trace_id() -> str:
    return f"{_ids.getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    return f"{_ids.getrandbits(64) or 1:016x}"


def attribute_value(value: Any) -> Any:
    """``value`` as an OpenTelemetry attribute value, or None when it cannot be one."""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_ATTRIBUTE_CHARS else value[:MAX_ATTRIBUTE_CHARS] + "…"
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
        kinds = {type(v) for v in value}
        if len(kinds) <= 1:
            return [attribute_value(v) for v in value]
    return attribute_value(json.dumps(value, default=str, ensure_ascii=False))


def _store_sink(batch: list[Queued]) -> None:
    from llmloop.context import local_context
    from llmloop.services.observe import service

    service.record_spans(local_context(), spans=batch)


def get_writer() -> SpanWriter:
    """The process's writer, created on first use; it writes to the store the settings name."""
    global _writer
    with _writer_lock:
        if _writer is None:
            # The last flush may run at interpreter exit, after threading has shut down, when a module
            # that registers a thread exit hook can no longer be imported: fsspec (the artifact store
            # inside a Context) imports concurrent.futures.thread. Load it while that is still allowed.
            import concurrent.futures.thread  # noqa: F401

            import llmloop.context
            import llmloop.services.observe.service  # noqa: F401
            from llmloop.config import get_settings

            _writer = SpanWriter(_store_sink, interval_s=get_settings().flush_interval_s)
        return _writer


def set_writer(writer: SpanWriter | None) -> SpanWriter | None:
    """Replace the process's writer (a server wiring its own store); returns the previous one."""
    global _writer
    with _writer_lock:
        previous, _writer = _writer, writer
        return previous


def writer_for(ctx: Context) -> SpanWriter:
    """A writer bound to one store (a server's Context), shared by everything that traces into it."""
    with _writer_lock:
        writer = _ctx_writers.get(ctx.db.url)
        if writer is None:
            from llmloop.services.observe import service

            writer = SpanWriter(
                lambda batch: service.record_spans(ctx, spans=batch), interval_s=ctx.settings.flush_interval_s
            )
            _ctx_writers[ctx.db.url] = writer
        return writer


def flush() -> None:
    """Write every finished span now, from every writer in this process."""
    flush_all()


class Span:
    """A span being recorded. Use it as a context manager, or call ``end()``."""

    __slots__ = (
        "_ended",
        "_perf",
        "_token",
        "_writer",
        "attributes",
        "events",
        "kind",
        "name",
        "parent_span_id",
        "project",
        "span_id",
        "start_time",
        "status_code",
        "status_message",
        "trace_id",
    )

    def __init__(
        self,
        name: str,
        *,
        trace_id: str,
        parent_span_id: str | None,
        project: str,
        kind: SpanKind = "internal",
        attributes: Mapping[str, Any] | None = None,
        writer: SpanWriter | None = None,
    ) -> None:
        self.name = name[:256] or "span"
        self.trace_id = trace_id
        self.span_id = new_span_id()
        self.parent_span_id = parent_span_id
        self.project = project
        self.kind: SpanKind = kind
        self.attributes: dict[str, Any] = {}
        self.events: list[SpanEvent] = []
        self.status_code: Literal["unset", "ok", "error"] = "unset"
        self.status_message = ""
        self._writer = writer
        self._token: contextvars.Token[Span | None] | None = None
        self._ended = False
        if attributes:
            self.set_attributes(attributes)
        self.start_time = time.time()
        self._perf = time.perf_counter()

    def set_attribute(self, key: str, value: Any) -> None:
        v = attribute_value(value)
        if v is not None:
            self.attributes[key] = v

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for k, v in attributes.items():
            self.set_attribute(k, v)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        attrs = {k: a for k, v in (attributes or {}).items() if (a := attribute_value(v)) is not None}
        self.events.append(SpanEvent.model_construct(name=name, time=time.time(), attributes=attrs))

    def set_status(self, code: Literal["unset", "ok", "error"], message: str = "") -> None:
        self.status_code, self.status_message = code, message[:MAX_ATTRIBUTE_CHARS]

    def record_exception(self, exc: BaseException) -> None:
        """An ``exception`` event with the OpenTelemetry attribute names, and error status."""
        self.add_event(
            "exception",
            {semconv.EXCEPTION_TYPE: type(exc).__name__, semconv.EXCEPTION_MESSAGE: str(exc)},
        )
        self.set_status("error", f"{type(exc).__name__}: {exc}")

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        record = SpanRecord.model_construct(
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            project=self.project,
            name=self.name,
            kind=self.kind,
            start_time=self.start_time,
            end_time=self.start_time + (time.perf_counter() - self._perf),
            status_code=self.status_code,
            status_message=self.status_message,
            attributes=self.attributes,
            events=self.events,
        )
        (self._writer or get_writer()).submit(record)

    def __enter__(self) -> Span:
        self._token = _current.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.record_exception(exc)
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        self.end()


def current_span() -> Span | None:
    return _current.get()


def span(
    name: str,
    *,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = "internal",
    project: str | None = None,
    parent: Span | None = None,
    writer: SpanWriter | None = None,
) -> Span:
    """A new span, a child of ``parent`` or of the current span, else the root of a new trace."""
    parent = parent if parent is not None else _current.get()
    if parent is not None:
        trace_id, parent_id = parent.trace_id, parent.span_id
        project = project or parent.project
        writer = writer or parent._writer
    else:
        trace_id, parent_id = new_trace_id(), None
        if project is None:
            from llmloop.config import get_settings

            project = get_settings().default_project
    return Span(
        name,
        trace_id=trace_id,
        parent_span_id=parent_id,
        project=project,
        kind=kind,
        attributes=attributes,
        writer=writer,
    )


@overload
def trace(fn: F) -> F: ...
@overload
def trace(
    fn: None = None,
    *,
    name: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = "internal",
) -> Callable[[F], F]: ...
def trace(
    fn: F | None = None,
    *,
    name: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = "internal",
) -> F | Callable[[F], F]:
    """Decorate a function (sync or async) so each call is a span named after it."""

    def decorate(func: F) -> F:
        span_name = name or func.__qualname__
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with span(span_name, attributes=attributes, kind=kind):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with span(span_name, attributes=attributes, kind=kind):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
