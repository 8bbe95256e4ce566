"""Web UI at scale: server time of the traces, trace and runs pages over a big SQLite store.

    python benchmarks/bench_ui.py [--traces 1000000] [--runs 10000] [--big-trace-spans 30000]
    python benchmarks/run.py --only ui

The store is filled through the services' own write paths (``record_spans`` in batches of
spans, as OTLP ingest writes them; ``create_run``), 5 spans per trace, one trace in 50 an
error, then one trace of ``--big-trace-spans`` spans. Each page is then asked for in-process
(the app over ``httpx``'s ASGI transport, no socket, so the figure is the server's time:
routing, auth, the service calls and the template) as HTML, best and median of 5 after one
warm-up. Targets from issue 16: traces list (first page and a filtered page) and runs table
<= 300 ms, the 30,000-span trace's span tree <= 1 s. No peer is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _report
from _report import Row

PROJECT = "bench"
SPANS_PER_TRACE = 5
BATCH = 5000  # spans per record_spans call


def _spans(trace_id: str, start: float, error: bool) -> list[Any]:
    from llmloop.services.observe.schemas import SpanData

    root = trace_id[:16]
    out = [
        SpanData(trace_id, root, None, PROJECT, "chat", "server", start, start + 0.5,
                 "error" if error else "ok", "", {"llmloop.input": "Where to in May?",
                 "gen_ai.request.model": f"m{int(start) % 3}"}, []),
    ]  # fmt: skip
    for i in range(1, SPANS_PER_TRACE):
        span = uuid.uuid4().hex[:16]
        out.append(
            SpanData(trace_id, span, root, PROJECT, f"step {i}", "internal", start + i * 0.05,
                     start + i * 0.05 + 0.04, "ok", "", {}, [])
        )  # fmt: skip
    return out


def big_trace(trace_id: str, n: int, base: float) -> list[Any]:
    """One agent-like trace of ``n`` spans: a root and a 4-ary tree of tool calls (depth ~7 at 30,000)."""
    from llmloop.services.observe.schemas import SpanData

    root = trace_id[:16]
    spans = [SpanData(trace_id, root, None, PROJECT, "agent", "server", base, base + n, "ok", "", {}, [])]
    parents = [root]
    for i in range(1, n):
        parent = parents[(i - 1) // 4]
        span = f"{i:016x}"
        parents.append(span)
        spans.append(SpanData(trace_id, span, parent, PROJECT, f"tool {i}", "internal", base + i * 0.01,
                              base + i * 0.01 + 0.005, "ok", "", {"i": i}, []))  # fmt: skip
    return spans


def fill(ctx: Any, traces: int, runs: int, big: int) -> tuple[dict[str, float], str, str]:
    """Write the store; returns seconds per part, the big trace's id and one run id."""
    from llmloop.services.observe import service as observe
    from llmloop.services.tracking import service as tracking
    from llmloop.services.tracking.schemas import RunCreate

    took: dict[str, float] = {}
    t0 = time.perf_counter()
    pending: list[Any] = []
    base = time.time() - traces
    for n in range(traces):
        pending += _spans(uuid.uuid4().hex, base + n, error=n % 50 == 0)
        if len(pending) >= BATCH:
            observe.record_spans(ctx, spans=pending)
            pending = []
        if n and n % 100_000 == 0:
            print(f"  {n:,} traces in {time.perf_counter() - t0:.0f} s", flush=True)
    if pending:
        observe.record_spans(ctx, spans=pending)
    took["traces_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    big_id = uuid.uuid4().hex
    spans = big_trace(big_id, big, base)
    for i in range(0, len(spans), BATCH):
        observe.record_spans(ctx, spans=spans[i : i + BATCH])
    took["big_trace_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    run_id = ""
    for i in range(runs):
        run_id = tracking.create_run(
            ctx, spec=RunCreate(project=PROJECT, name=f"r{i}", params={"lr": str(i)})
        ).id
    took["runs_s"] = time.perf_counter() - t0
    return took, big_id, run_id


def timed(client: Any, url: str, repeat: int = 5) -> dict[str, float]:
    answer = client.get(url)  # warm-up (and a check)
    if answer.status_code != 200:
        raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(url).raise_for_status()
        ms.append((time.perf_counter() - t0) * 1000)
    return {
        "best_ms": round(min(ms), 1),
        "median_ms": round(statistics.median(ms), 1),
        "bytes": len(answer.content),
    }


@contextmanager
def empty_store(prefix: str) -> Iterator[Any]:
    """A local context on a new SQLite store in a temporary home, removed afterwards: what both UI
    benchmarks fill and time."""
    from llmloop.config import reset_settings
    from llmloop.context import local_context

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["LLMLOOP_HOME"] = tmp
        os.environ["LLMLOOP_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'llmloop.db'}"
        reset_settings()
        yield local_context()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--big-trace-spans", type=int, default=30_000)
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from llmloop.server.app import create_app

    with empty_store("llmloop-bench-ui-") as ctx:
        print(f"filling: {args.traces:,} traces x {SPANS_PER_TRACE} spans, {args.runs:,} runs", flush=True)
        took, big_id, run_id = fill(ctx, args.traces, args.runs, args.big_trace_spans)
        q = f"project={PROJECT}"
        with TestClient(create_app(ctx)) as client:
            pages = {
                "traces": timed(client, f"/traces?{q}"),
                "traces_errors": timed(client, f"/traces?{q}&status=error"),
                "traces_slow": timed(client, f"/traces?{q}&min_duration_ms=400"),
                "trace_page": timed(client, f"/traces/{big_id}?{q}"),
                "trace_spans": timed(client, f"/traces/{big_id}/spans?{q}", repeat=3),
                "runs": timed(client, f"/runs?{q}"),
                "run": timed(client, f"/runs/{run_id}?{q}"),
            }
    scale = f"{args.traces:,} traces x {SPANS_PER_TRACE} spans, {args.runs:,} runs"
    rows = [
        Row("traces page, first page", "ms", pages["traces"]["median_ms"], higher_is_better=False, target_max=300),
        Row("traces page, status=error", "ms", pages["traces_errors"]["median_ms"], higher_is_better=False, target_max=300),
        Row("traces page, slower than 400 ms", "ms", pages["traces_slow"]["median_ms"], higher_is_better=False),
        Row(f"trace page ({args.big_trace_spans:,} spans)", "ms", pages["trace_page"]["median_ms"], higher_is_better=False, target_max=1000),
        Row(f"span tree ({args.big_trace_spans:,} spans)", "ms", pages["trace_spans"]["median_ms"], higher_is_better=False, target_max=1000),
        Row("runs table", "ms", pages["runs"]["median_ms"], higher_is_better=False, target_max=300),
    ]  # fmt: skip
    return {
        "title": f"Web UI server time at scale ({scale}, SQLite)",
        "ours": "llmloop",
        "peer": "-",
        "rows": rows,
        "notes": [
            f"store filled in {took['traces_s']:.0f} s (traces), {took['big_trace_s']:.0f} s (big trace), "
            f"{took['runs_s']:.0f} s (runs) through the services' write paths",
            "median of 5 in-process requests after a warm-up (3 for the span tree); HTML responses",
            f"span tree page is {pages['trace_spans']['bytes'] / 1e6:.1f} MB of HTML",
        ],
        "raw": {"pages": pages, "fill": took, "args": vars(args)},
    }


if __name__ == "__main__":
    _, md = _report.write("ui", main())
    print(md.read_text())
