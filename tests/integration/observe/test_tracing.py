"""Tracing on a real store (SQLite and PostgreSQL): nesting, batched asynchronous writes, summaries, queries."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import llmloop as ll
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.observe import semconv, service
from llmloop.services.observe.schemas import SpanRecord, TraceSearch
from llmloop.services.observe.tracer import new_span_id, new_trace_id
from llmloop.services.observe.writer import SpanWriter
from llmloop.store import pages


def record(trace_id: str, *, parent: str | None = None, start: float = 100.0, **kw: Any) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id=kw.pop("span_id", new_span_id()),
        parent_span_id=parent,
        project=kw.pop("project", "obs"),
        name=kw.pop("name", "op"),
        start_time=start,
        end_time=kw.pop("end", start + 0.5),
        **kw,
    )


def test_spans_nest_and_the_trace_summarises_them(ctx: Any) -> None:
    with ll.span(
        "request", attributes={semconv.USER_ID: "u-1", semconv.SESSION_ID: "s-9"}, project="obs"
    ) as root:
        with ll.span("retrieve") as retrieve, ll.span("embed") as embed:
            embed.set_attribute("n", 3)
        with ll.span("llm", kind="client") as llm:
            llm.set_attributes(
                {
                    semconv.GEN_AI_REQUEST_MODEL: "smollm2",
                    semconv.GEN_AI_USAGE_INPUT_TOKENS: 12,
                    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                    "odd": {"nested": [1, 2]},
                }
            )
        with pytest.raises(ValueError), ll.span("postprocess"):
            raise ValueError("bad answer")
    ll.flush_traces()
    trace = service.get_trace(ctx, trace_id=root.trace_id)
    by_name = {s.name: s for s in trace.spans}
    assert trace.name == "request" and trace.project == "obs" and trace.root_span_id == root.span_id
    assert by_name["request"].parent_span_id is None
    assert by_name["retrieve"].parent_span_id == root.span_id
    assert by_name["embed"].parent_span_id == retrieve.span_id
    assert by_name["llm"].kind == "client" and by_name["llm"].attributes["odd"] == '{"nested": [1, 2]}'
    assert (trace.span_count, trace.error_count, trace.status) == (5, 1, "error")
    assert (trace.model, trace.user_id, trace.session_id) == ("smollm2", "u-1", "s-9")
    assert (trace.input_tokens, trace.output_tokens) == (12, 5)
    bad = by_name["postprocess"]
    assert bad.status_code == "error" and bad.status_message == "ValueError: bad answer"
    assert (
        bad.events[0].name == "exception" and bad.events[0].attributes[semconv.EXCEPTION_TYPE] == "ValueError"
    )
    assert all(s.start_time >= trace.start_time and s.end_time <= trace.end_time + 1e-6 for s in trace.spans)
    assert len(root.trace_id) == 32 and len(root.span_id) == 16


def test_decorator_traces_sync_and_async_functions(ctx: Any) -> None:
    @ll.trace
    def plan(x: int) -> int:
        return step(x) + 1

    @ll.trace(name="step", attributes={"component": "planner"})
    def step(x: int) -> int:
        return x * 2

    @ll.trace
    async def fetch() -> str:
        await asyncio.sleep(0)
        return "ok"

    with ll.span("outer", project="obs") as outer:
        assert plan(3) == 7
        assert asyncio.run(fetch()) == "ok"
    ll.flush_traces()
    spans = {s.name: s for s in service.get_trace(ctx, trace_id=outer.trace_id).spans}
    qual = "test_decorator_traces_sync_and_async_functions.<locals>"
    assert spans[f"{qual}.plan"].parent_span_id == outer.span_id
    assert spans["step"].parent_span_id == spans[f"{qual}.plan"].span_id
    assert spans["step"].attributes == {"component": "planner"}
    assert spans[f"{qual}.fetch"].parent_span_id == outer.span_id


def test_threads_start_their_own_traces(ctx: Any) -> None:
    seen: list[str] = []
    with ll.span("main", project="obs") as main:

        def work() -> None:
            with ll.span("worker", project="obs") as w:
                seen.append(w.trace_id)

        t = threading.Thread(target=work)
        t.start()
        t.join()
    ll.flush_traces()
    assert seen and seen[0] != main.trace_id
    assert service.get_trace(ctx, trace_id=seen[0]).span_count == 1


def test_writer_batches_off_the_callers_path(ctx: Any) -> None:
    calls: list[int] = []

    def slow_sink(batch: list[SpanRecord]) -> None:
        calls.append(len(batch))
        time.sleep(0.3)  # a slow store must not slow the code being traced
        service.record_spans(ctx, spans=batch)

    writer = SpanWriter(slow_sink, interval_s=0.05, max_batch=50)
    trace_id = new_trace_id()
    started = time.perf_counter()
    for i in range(230):
        writer.submit(record(trace_id, start=100.0 + i))
    submit_s = time.perf_counter() - started
    time.sleep(0.1)  # the background thread has begun writing
    assert calls, "the background thread wrote nothing"
    assert submit_s < 0.25  # 230 spans queued faster than one write of the slow sink
    writer.flush()
    assert sum(calls) == 230 and max(calls) <= 50 and len(calls) >= 5
    assert (writer.written, writer.dropped) == (230, 0)
    assert service.get_trace(ctx, trace_id=trace_id).span_count == 230
    writer.close()


def test_full_queue_drops_and_counts_instead_of_blocking(ctx: Any) -> None:
    release = threading.Event()
    writer = SpanWriter(lambda batch: release.wait(5), interval_s=0.01, max_batch=10, max_queue=20)
    trace_id = new_trace_id()
    for i in range(100):
        writer.submit(record(trace_id, start=float(i)))
    assert writer.dropped >= 70 and writer.pending <= 20
    release.set()
    writer.close()


def test_recording_is_idempotent_and_folds_batches(ctx: Any) -> None:
    tid = new_trace_id()
    root_id = new_span_id()
    child = record(
        tid, parent=root_id, start=101.0, name="child", attributes={semconv.GEN_AI_USAGE_INPUT_TOKENS: 4}
    )
    assert service.record_spans(ctx, spans=[child, child]) == 1
    first = service.get_trace(ctx, trace_id=tid)
    assert (first.name, first.root_span_id, first.span_count) == ("child", None, 1)
    root = record(tid, span_id=root_id, start=100.0, end=103.0, name="root", status_code="ok")
    assert service.record_spans(ctx, spans=[root, child]) == 1  # the retried child is skipped
    trace = service.get_trace(ctx, trace_id=tid)
    assert (trace.name, trace.root_span_id, trace.span_count, trace.input_tokens) == ("root", root_id, 2, 4)
    assert (trace.start_time, trace.end_time, trace.status) == (100.0, 103.0, "ok")


def test_list_traces_filters_and_pages(ctx: Any) -> None:
    spans = []
    for i in range(6):
        attrs = {semconv.GEN_AI_REQUEST_MODEL: "a" if i % 2 else "b", semconv.USER_ID: f"u{i % 3}"}
        spans.append(
            record(
                new_trace_id(),
                start=1000.0 + i,
                end=1000.0 + i + i * 0.1,
                attributes=attrs,
                status_code="error" if i == 5 else "ok",
            )
        )
    spans.append(record(new_trace_id(), start=2000.0, project="other"))
    service.record_spans(ctx, spans=spans)

    def ids(**kw: Any) -> list[float]:
        return [t.start_time for t in service.list_traces(ctx, query=TraceSearch(project="obs", **kw)).items]

    assert ids() == [1005.0, 1004.0, 1003.0, 1002.0, 1001.0, 1000.0]
    assert ids(model="a") == [1005.0, 1003.0, 1001.0]
    assert ids(user_id="u0") == [1003.0, 1000.0]
    assert ids(status="error") == [1005.0]
    assert ids(min_duration_ms=350) == [1005.0, 1004.0]
    assert ids(since=1002.0, until=1004.0) == [1003.0, 1002.0]
    page = service.list_traces(ctx, query=TraceSearch(project="obs", limit=4))
    rest = service.list_traces(
        ctx, query=TraceSearch(project="obs", limit=4, page_token=page.next_page_token)
    )
    assert len(page.items) == 4 and len(rest.items) == 2 and rest.next_page_token is None
    assert {t.project for t in service.list_traces(ctx, query=TraceSearch()).items} == {"obs", "other"}


def test_trace_pages_seek_past_the_last_row_seen(ctx: Any) -> None:
    """Keyset paging: ties on start time are split by id, and a trace written between two pages
    shifts nothing (an OFFSET page would serve the last row of the first page again)."""
    tied = [record(new_trace_id(), start=500.0) for _ in range(3)]
    older = record(new_trace_id(), start=400.0)
    service.record_spans(ctx, spans=[*tied, older])
    seen: list[str] = []
    token = None
    while True:
        page = service.list_traces(ctx, query=TraceSearch(project="obs", limit=1, page_token=token))
        seen += [t.trace_id for t in page.items]
        if len(seen) == 1:  # a newer trace arrives after the first page
            service.record_spans(ctx, spans=[record(new_trace_id(), start=900.0)])
        token = page.next_page_token
        if token is None:
            break
    assert seen == [*sorted(r.trace_id for r in tied), older.trace_id]
    with pytest.raises(InvalidInput, match="invalid page_token") as err:  # another listing's token
        service.list_traces(ctx, query=TraceSearch(page_token=pages.encode("runs", offset=1)))
    assert err.value.details == {"field": "page_token"}


def test_bad_spans_and_unknown_traces(ctx: Any) -> None:
    with pytest.raises(ValueError, match="trace_id"):
        SpanRecord(trace_id="xyz", span_id="0" * 16, name="n", start_time=0, end_time=1)
    with pytest.raises(InvalidInput, match="project"):
        service.record_spans(ctx, spans=[record(new_trace_id(), project="../bad")])
    with pytest.raises(NotFound):
        service.get_trace(ctx, trace_id=new_trace_id())
    with pytest.raises(InvalidInput, match="page_token"):
        service.list_traces(ctx, query=TraceSearch(page_token="!!"))


def test_spans_are_flushed_at_interpreter_exit(isolated_home: Path) -> None:
    code = "import llmloop as ll\nwith ll.span('at-exit', project='obs') as s:\n    pass\nprint(s.trace_id)\n"
    env = {**os.environ, "LLMLOOP_HOME": str(isolated_home), "LLMLOOP_FLUSH_INTERVAL_S": "60"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ll.__file__).parents[1]), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    from llmloop.context import local_context

    trace = service.get_trace(local_context(), trace_id=out.stdout.strip())
    assert trace.name == "at-exit" and trace.span_count == 1
