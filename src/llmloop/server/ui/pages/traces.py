"""``/traces``: search at scale (keyset pages, no totals, short previews) and one trace's span tree.

The list never counts: each page asks for one page and a token for the next. A trace's page
shows its summary and feedback at once and loads the span tree separately (``/spans``), so a
trace of tens of thousands of spans does not hold up the page.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from llmloop.server.ui.render import View, page
from llmloop.services.observe.schemas import Span, TraceSearch
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


def tree(spans: list[Span]) -> list[dict[str, Any]]:
    """Spans depth first from the roots, each with its depth and its offset/width on the trace's time line."""
    children: dict[str | None, list[Span]] = {}
    ids = {s.span_id for s in spans}
    for s in sorted(spans, key=lambda s: s.start_time):
        parent = s.parent_span_id if s.parent_span_id in ids else None
        children.setdefault(parent, []).append(s)
    start = min((s.start_time for s in spans), default=0.0)
    length = max((s.end_time for s in spans), default=1.0) - start or 1.0
    out: list[dict[str, Any]] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        out.append(
            {
                "span": span,
                "depth": depth,
                "left": (span.start_time - start) / length * 100,
                "width": max(0.5, (span.end_time - span.start_time) / length * 100),
            }
        )
        stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
    return out


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
def spans(view: View, trace_id: str, offset: int = Query(0, ge=0)) -> dict[str, Any]:
    """The span tree depth first, ``SPANS_PER_PAGE`` rows from ``offset`` (the next ones load on demand)."""
    rows = tree(view.client.traces.get_trace(trace_id).spans)
    end = offset + SPANS_PER_PAGE
    return {
        "trace_id": trace_id,
        "spans": rows[offset:end],
        "offset": offset,
        "next_offset": end if end < len(rows) else None,
        "total": len(rows),
        "preview": PREVIEW,
    }


@page(router, "/traces/{trace_id}", "trace.html", "traces:read")
def trace(view: View, trace_id: str) -> dict[str, Any]:
    found = view.client.traces.get_trace(trace_id, spans=False)  # the tree comes from /spans
    question, answer = io_of(found)
    summary = found.model_copy(update={"spans": []})
    return {"trace": summary, "input": question, "output": answer, "feedback": found.feedback}
