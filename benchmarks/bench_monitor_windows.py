"""Monitor window queries over a store of 1,000,000 spans: one monitor pass's read, on SQLite (and PostgreSQL).

    python benchmarks/bench_monitor_windows.py [--spans 1000000] [--postgres-url URL]
    python benchmarks/run.py --only monitor_windows

The store holds traces of 4 spans each (a root span with the gateway's attributes, three children)
spread evenly over 30 days, written straight into the tables in batches. Each row times one metric
monitor over a window ending at the last trace (median of 5), and the query plan is checked to
start from ``ix_traces_project_start`` and reach root spans by primary key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import _report
from _report import Row

DAYS = 30
SPANS_PER_TRACE = 4
WINDOWS = {"1 hour": 3600.0, "1 day": 86_400.0}
METRICS = ("latency_p95", "error_rate", "guardrail_hits")
_REDACTED = [{"name": "guardrail.redact", "time": 0.0, "attributes": {"kind": "email"}}]


def _fill(ctx: Any, spans: int) -> tuple[str, float]:
    from sqlalchemy import insert

    from llmloop.store.projects import project_id
    from llmloop.store.tables.traces import SpanRow, TraceRow

    traces = spans // SPANS_PER_TRACE
    with ctx.db.session() as s:
        pid = project_id(s, "bench", create=True)
    t_end = 1_900_000_000.0
    step = DAYS * 86_400.0 / traces
    batch = 5000
    for start in range(0, traces, batch):
        trace_rows, span_rows = [], []
        for i in range(start, min(traces, start + batch)):
            tid, at = uuid.uuid4().hex, t_end - DAYS * 86_400.0 + i * step
            guarded = i % 20 == 0  # one request in 20 has a redaction, as its guardrail span's event
            root = tid[:16]
            trace_rows.append({
                "trace_id": tid, "project_id": pid, "name": "gateway chat", "root_span_id": root, "start_time": at,
                "end_time": at + 0.3, "status": "error" if i % 50 == 0 else "ok", "span_count": SPANS_PER_TRACE,
                "error_count": 0, "model": "travel@3", "user_id": None, "session_id": None, "input_tokens": 40,
                "output_tokens": 20, "guardrail_hits": int(guarded),
            })  # fmt: skip
            attrs = {"llmloop.latency_ms": 100.0 + (i % 400), "gen_ai.request.model": "travel@3",
                     "gen_ai.input.messages": json.dumps([{"role": "user", "content": f"trip {i % 997}"}])}  # fmt: skip
            for j in range(SPANS_PER_TRACE):
                span_rows.append({
                    "trace_id": tid, "span_id": root if j == 0 else f"{tid[16:31]}{j}", "parent_span_id": None if j == 0 else root,
                    "name": "gateway chat" if j == 0 else ("guardrails input" if j == 1 else f"step {j}"), "kind": "internal",
                    "start_time": at, "end_time": at + 0.1, "status_code": "ok", "status_message": "",
                    "attributes": attrs if j == 0 else {}, "events": _REDACTED if guarded and j == 1 else [],
                })  # fmt: skip
        with ctx.db.session() as s:
            s.execute(insert(TraceRow), trace_rows)
            s.execute(insert(SpanRow), span_rows)
    return pid, t_end


def _plan(ctx: Any, pid: str, start: float, end: float) -> str:
    from sqlalchemy import and_, select

    from llmloop.store.tables.traces import SpanRow, TraceRow

    q = (
        select(TraceRow.trace_id, SpanRow.attributes)
        .outerjoin(
            SpanRow, and_(SpanRow.trace_id == TraceRow.trace_id, SpanRow.span_id == TraceRow.root_span_id)
        )
        .where(TraceRow.project_id == pid, TraceRow.start_time >= start, TraceRow.start_time < end)
    )
    compiled = q.compile(ctx.db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if ctx.db.is_sqlite else "EXPLAIN "
    with ctx.db.engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text(prefix + str(compiled))).fetchall()
    return " | ".join(str(r[-1]) for r in rows)


def run_store(url: str | None, spans: int) -> dict[str, Any]:
    from llmloop.config import Settings
    from llmloop.context import local_context
    from llmloop.services.monitor import windows

    with tempfile.TemporaryDirectory(
        prefix="llmloop-bench-win-", dir=os.environ.get("LLMLOOP_BENCH_TMPDIR")
    ) as t:
        settings = Settings(home=Path(t), database_url=url) if url else Settings(home=Path(t))  # type: ignore[call-arg]
        ctx = local_context(settings)
        t0 = time.perf_counter()
        pid, end = _fill(ctx, spans)
        fill_s = time.perf_counter() - t0
        out: dict[str, Any] = {"fill_s": fill_s, "spans": spans, "windows": {}}
        for label, length in WINDOWS.items():
            per_metric = {}
            for metric in METRICS:

                def once(metric: str = metric, length: float = length) -> None:
                    with ctx.db.session() as s:
                        reqs = windows.requests(
                            s,
                            project_id=pid,
                            start=end - length,
                            end=end,
                        )
                        windows.measure(s, metric, reqs)

                per_metric[metric] = _report.median(_report.seconds(once, repeat=5, warmup=1)) * 1000
            with ctx.db.session() as s:
                n = len(windows.requests(s, project_id=pid, start=end - length, end=end))
            out["windows"][label] = {"traces": n, "ms": per_metric}
        out["plan"] = _plan(ctx, pid, end - 3600, end)
        ctx.db.engine.dispose()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--postgres-url", default=os.environ.get("LLMLOOP_TEST_POSTGRES_URL"))
    args = ap.parse_args(argv)
    stores = {"SQLite": run_store(None, args.spans)}
    if args.postgres_url:
        import uuid as _uuid

        from sqlalchemy import create_engine, text

        schema = f"bench_{_uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.postgres_url else "?"
            stores["PostgreSQL"] = run_store(
                f"{args.postgres_url}{sep}options=-csearch_path%3D{schema}", args.spans
            )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    rows = []
    for store, got in stores.items():
        for label, w in got["windows"].items():
            for metric, ms in w["ms"].items():
                rows.append(Row(f"{store}: {metric} over the last {label} ({w['traces']} traces) of {args.spans:,} spans",
                                "ms", ms, higher_is_better=False, target_max=200.0))  # fmt: skip
    notes = [f"{store} query plan of the 1-hour window: {got['plan']}" for store, got in stores.items()]
    notes += [
        f"{store}: writing the {args.spans:,} spans took {got['fill_s']:.0f} s"
        for store, got in stores.items()
    ]
    return {
        "title": f"Monitor window queries over {args.spans:,} stored spans",
        "ours": "llmloop",
        "peer": "none",
        "rows": rows,
        "notes": notes,
        "raw": stores,
    }


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = main(sys.argv[1:])
    print(json.dumps(result["raw"], indent=1), file=sys.stderr)
    result["duration_s"] = time.perf_counter() - t0
    result["machine"] = _report.machine()
    _, md = _report.write("monitor_windows", result)
    print(md.read_text())
