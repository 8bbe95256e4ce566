"""One trace of 30,000 spans alone in a SQLite store: server time of its detail page and JSON twin.

    python benchmarks/bench_trace_page.py [--spans 30000] [--repeat 5]
    python benchmarks/run.py --only trace_page

``bench_ui`` measures the same page inside a million-trace store, which takes many minutes to
fill; this case isolates the cost of the trace itself (issue 16: an agent's trace of 30,000 spans
must open in at most 1 s) and runs in seconds. The spans (``bench_ui.big_trace``: a root and a
4-ary tree of tool calls) are written in one bulk ``record_spans`` call, the tracing service's
own write path (one ``executemany`` of the spans and one summary row). Each URL is asked for
in-process (the app over an ASGI transport, no socket: routing, auth, the service calls and the
template or JSON encoding), best and median of ``--repeat`` after one warm-up. The span tree,
which the page loads after it, is measured too: its first 500 rows, and the part of the tree that
page names first in its ``more`` (what a click on its first "load" row asks for). Two other shapes
of trace, as big, in the same store show the tree's cases that grow with the trace: a flat one (a
root and ``--spans`` - 1 children: the root's child count and the next 500 siblings) and one whose
spans all lost their parents (finding the top level reads every distinct parent id). No peer is
measured.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import _report
from _report import Row
from bench_ui import PROJECT, big_trace, empty_store, timed


def flat_trace(trace_id: str, n: int, base: float) -> list[Any]:
    """A root and ``n - 1`` children, say an agent's tool calls, none with children of its own."""
    from llmloop.services.observe.schemas import SpanData

    root = trace_id[:16]
    spans = [SpanData(trace_id, root, None, PROJECT, "agent", "server", base, base + n, "ok", "", {}, [])]
    spans += [SpanData(trace_id, f"{i:016x}", root, PROJECT, f"tool {i}", "internal", base + i * 0.01,
                       base + i * 0.01 + 0.005, "ok", "", {"i": i}, []) for i in range(1, n)]  # fmt: skip
    return spans


def orphaned_trace(trace_id: str, n: int, base: float) -> list[Any]:
    """``n`` spans, each naming a parent that was never stored (a partial export)."""
    from llmloop.services.observe.schemas import SpanData

    return [SpanData(trace_id, f"{i:016x}", f"f{i:015x}", PROJECT, f"step {i}", "internal", base + i * 0.01,
                     base + i * 0.01 + 0.005, "ok", "", {"i": i}, []) for i in range(n)]  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from llmloop.server.app import create_app
    from llmloop.services.observe import service as observe

    with empty_store("llmloop-bench-trace-") as ctx:
        trace_id, flat_id, orphaned_id = (uuid.uuid4().hex for _ in range(3))
        spans = big_trace(trace_id, args.spans, time.time() - args.spans)
        t0 = time.perf_counter()
        stored = observe.record_spans(ctx, spans=spans)
        insert_s = time.perf_counter() - t0
        if stored != args.spans:
            raise RuntimeError(f"stored {stored} of {args.spans} spans")
        for tid, shape in ((flat_id, flat_trace), (orphaned_id, orphaned_trace)):
            observe.record_spans(ctx, spans=shape(tid, args.spans, time.time() - args.spans))
        q = f"project={PROJECT}"
        with TestClient(create_app(ctx)) as client:
            more = client.get(f"/traces/{trace_id}/spans.json?{q}").json()["tree"]["more"]
            flat_more = client.get(f"/traces/{flat_id}/spans.json?{q}").json()["tree"]["more"]
            pages = {
                "page": timed(client, f"/traces/{trace_id}?{q}", repeat=args.repeat),
                "twin": timed(client, f"/traces/{trace_id}.json?{q}", repeat=args.repeat),
                "spans": timed(client, f"/traces/{trace_id}/spans?{q}", repeat=args.repeat),
                "more": timed(client, f"/traces/{trace_id}/spans?{q}&page_token={more[0]['page_token']}",
                              repeat=args.repeat),
                "flat": timed(client, f"/traces/{flat_id}/spans?{q}", repeat=args.repeat),
                "flat_more": timed(client, f"/traces/{flat_id}/spans?{q}&page_token={flat_more[0]['page_token']}",
                                   repeat=args.repeat),
                "orphaned": timed(client, f"/traces/{orphaned_id}/spans?{q}", repeat=args.repeat),
            }  # fmt: skip
    n = f"{args.spans:,} spans"
    rows = [
        Row(f"trace page ({n})", "ms", pages["page"]["median_ms"], higher_is_better=False, target_max=1000),
        Row(f"trace page JSON twin ({n})", "ms", pages["twin"]["median_ms"], higher_is_better=False, target_max=1000),
        Row(f"span tree, first 500 rows ({n})", "ms", pages["spans"]["median_ms"], higher_is_better=False, target_max=1000),
        Row(f"span tree, the part its first 'load' row asks for ({n})", "ms", pages["more"]["median_ms"], higher_is_better=False, target_max=1000),
        Row(f"span tree, first 500 rows (flat: a root and {args.spans - 1:,} children)", "ms", pages["flat"]["median_ms"], higher_is_better=False, target_max=1000),
        Row(f"span tree, the next 500 children (flat, {n})", "ms", pages["flat_more"]["median_ms"], higher_is_better=False, target_max=1000),
        Row(f"span tree, first 500 rows ({n} whose parents were never stored)", "ms", pages["orphaned"]["median_ms"], higher_is_better=False, target_max=1000),
    ]  # fmt: skip
    return {
        "title": f"Trace detail page, one trace of {n} (SQLite)",
        "ours": "llmloop",
        "peer": "-",
        "rows": rows,
        "notes": [
            f"{n} stored in one bulk record_spans call in {insert_s:.1f} s",
            f"median of {args.repeat} in-process requests after a warm-up; best: page "
            f"{pages['page']['best_ms']} ms, twin {pages['twin']['best_ms']} ms, "
            f"span tree {pages['spans']['best_ms']} ms, its next part {pages['more']['best_ms']} ms, flat "
            f"{pages['flat']['best_ms']} ms then {pages['flat_more']['best_ms']} ms, orphaned {pages['orphaned']['best_ms']} ms",
        ],
        "raw": {"pages": pages, "insert_s": insert_s, "args": vars(args)},
    }


if __name__ == "__main__":
    _, md = _report.write("trace_page", main())
    print(md.read_text())
