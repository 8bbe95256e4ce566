"""``/traces``: search at scale (keyset pages, no totals, short previews) and one trace's span tree.

The list never counts: each page asks for one page and a token for the next. A trace's page
shows its summary and feedback at once and loads the span tree separately (``/spans``), a page
of rows at a time that the traces service pages in SQL (``services/observe/tree.py``), so a trace
of tens of thousands of spans costs a page of them; each part of the tree a page stops short of is
a row that loads that part in its place.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from llmloop.server.ui.render import View, page
from llmloop.services.observe.schemas import Span, SpanTreePage, TraceSearch
from llmloop.services.serve.schemas import TraceDetail

router = APIRouter()
PAGE = 50
PREVIEW = 2000  # characters of a span attribute shown; the JSON twin has them whole
SPANS_PER_PAGE = 500  # rows of the span tree per request: a 30,000-span trace stays usable in a browser


def io_of(trace: TraceDetail) -> tuple[str, str]:
    """The request and the answer of a trace, as its root span recorded them (empty when absent)."""
    root = next(
        (s for s in trace.spans if s.span_id == trace.root_span_id), trace.spans[0] if trace.spans else None
    )
    if root is None:
        return "", ""
    a = root.attributes
    question = a.get("llmloop.input", a.get("gen_ai.input.messages", ""))
    answer = a.get("llmloop.output", a.get("gen_ai.output.messages", ""))
    return str(question), str(answer)


@page(router, "/traces", "traces.html", "traces:read")
def traces(
    view: View,
    model: str | None = None,
    user_id: str | None = None,
    status: Literal["ok", "error", ""] = "",
    min_duration_ms: float | None = Query(None, ge=0),
    page_token: str | None = None,
) -> dict[str, Any]:
    search = TraceSearch(
        project=view.project,
        model=model or None,
        user_id=user_id or None,
        status=status or None,
        min_duration_ms=min_duration_ms,
        limit=PAGE,
        page_token=page_token,
    )
    return {"traces": view.client.traces.list_traces(search), "filters": search}


@page(router, "/traces/{trace_id}/spans", "_spans.html", "traces:read")
def spans(
    view: View, trace_id: str, page_token: str | None = None, parent_span_id: str | None = None
) -> dict[str, Any]:
    """``SPANS_PER_PAGE`` rows of the span tree, depth first, paged in SQL; each part it stops short of
    is a row that loads that part in its place (``page_token``)."""
    tree = view.client.traces.span_tree(
        trace_id, parent_span_id=parent_span_id or None, page_token=page_token or None, limit=SPANS_PER_PAGE
    )
    start = min((r.span.start_time for r in tree.rows), default=0.0)
    found = view.client.traces.get_trace(trace_id, spans=False) if tree.rows else None
    if found is not None:  # the time line is the trace's, so rows of later pages line up with the first
        start = found.start_time
        length = (found.end_time - found.start_time) or 1.0
    else:
        length = 1.0
    return {
        "trace_id": trace_id,
        "tree": tree,
        "first": not page_token and not parent_span_id,
        "bars": [_bar(r.span, start, length) for r in tree.rows],
        "labels": _labels(tree),
        "per_page": SPANS_PER_PAGE,
        "preview": PREVIEW,
    }


def _labels(tree: SpanTreePage) -> list[str]:
    """What each ``more`` row loads (each span with its subtree), naming the parent when this page shows it."""
    names = {r.span.span_id: r.span.name for r in tree.rows}
    last = tree.rows[-1].span.span_id if tree.rows else None
    out = []
    for m in tree.more:
        n = f"{m.remaining} {'more ' if m.parent_span_id != last else ''}"
        spans = "span" if m.remaining == 1 else "spans"
        if m.parent_span_id is None:
            out.append(f"{n}top-level {spans}")
        elif m.parent_span_id in names:
            out.append(f"{n}child {spans} of {names[m.parent_span_id]}")
        else:
            out.append(f"{n}{spans} at this level")
    return out


def _bar(span: Span, start: float, length: float) -> dict[str, float]:
    """Where a span sits on the trace's time line, in percent of its length."""
    return {
        "left": (span.start_time - start) / length * 100,
        "width": max(0.5, (span.end_time - span.start_time) / length * 100),
    }


@page(router, "/traces/{trace_id}", "trace.html", "traces:read")
def trace(view: View, trace_id: str) -> dict[str, Any]:
    found = view.client.traces.get_trace(trace_id, spans=False)  # the tree comes from /spans
    question, answer = io_of(found)
    summary = found.model_copy(update={"spans": []})
    return {"trace": summary, "input": question, "output": answer, "feedback": found.feedback}
