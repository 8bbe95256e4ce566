"""Trace ingest: 1,000 traces x 5 spans from the real OpenTelemetry OTLP/HTTP exporter, until all are stored.

    python benchmarks/bench_traces.py [--traces 1000] [--no-mlflow]
    python benchmarks/run.py --only traces

One client script (``workloads/traces_otlp.py``: OpenTelemetry SDK, BatchSpanProcessor,
``opentelemetry-exporter-otlp-proto-http``) sends the same spans to each server's OTLP endpoint:
``llmloop serve`` (one worker, SQLite) at ``/v1/traces``, and the MLflow tracking server (one
worker, SQLite, MLflow in its own virtualenv as ``bench_tracking`` makes it) at its ``/v1/traces``.
End to end is from the first span created to the moment this process counts every span in the
server's SQLite file (polled every 10 ms); the traces are then read back through llmloop's
``/api/v1/traces`` to check that each one is complete.

Environment: ``LLMLOOP_BENCH_MLFLOW_PYTHON`` (MLflow's interpreter instead of the bench venv).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _report
from _report import Row
from bench_tracking import free_port, llmloop_env, mlflow_env, mlflow_python, server

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workloads" / "traces_otlp.py"
SPANS_PER_TRACE = 5
MODES = ("exporter", "bodies")


def _count(db: Path, sql: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # the table does not exist yet
        return 0
    finally:
        conn.close()


def _send(
    endpoint: str, headers: dict[str, str], traces: int, db: Path, count_sql: str, mode: str
) -> dict[str, Any]:
    """Run the client and poll the store until every span it sent is there (or five minutes pass)."""
    already = _count(db, count_sql)
    want = already + traces * SPANS_PER_TRACE
    cfg = {
        "endpoint": endpoint,
        "headers": headers,
        "traces": traces,
        "spans_per_trace": SPANS_PER_TRACE,
        "mode": mode,
    }
    client = subprocess.Popen(
        [sys.executable, str(WORKLOAD), json.dumps(cfg)], stdout=subprocess.PIPE, text=True
    )
    stored, done_at = 0, None
    deadline = time.time() + 300
    while time.time() < deadline:
        stored = _count(db, count_sql)
        if stored >= want:
            done_at = time.time()
            break
        time.sleep(0.01)
    out, _ = client.communicate(timeout=600)
    if client.returncode != 0:
        raise RuntimeError(f"the OTLP client failed ({client.returncode})")
    sent = json.loads(out)
    seconds = (done_at - sent["start"]) if done_at else None
    return {
        **sent,
        "spans": want - already,
        "stored": stored - already,
        "stored_at": done_at,
        "end_to_end_s": seconds,
        "spans_per_s": (want - already) / seconds if seconds else None,
        "client_export_s": sent["flushed"] - sent["start"],
    }


def run_llmloop(tmp: Path, traces: int) -> dict[str, Any]:
    import httpx

    home = tmp / "llmloop"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "llmloop", "serve", "--port", str(port)]
    peak: dict[str, float | None] = {}
    with server(cmd, llmloop_env(home), tmp, f"{url}/api/v1/health", peak):
        result: dict[str, Any] = {
            mode: _send(
                f"{url}/v1/traces", {}, traces, home / "llmloop.db", "SELECT count(*) FROM spans", mode
            )
            for mode in MODES
        }
        page = httpx.get(f"{url}/api/v1/traces", params={"limit": 10_000}, timeout=60).json()
        result["queryable_traces"] = sum(1 for t in page["items"] if t["span_count"] == SPANS_PER_TRACE)
    result["server_peak_rss_mb"] = peak.get("mb")
    return result


def exporter_ceiling(tmp: Path, traces: int) -> dict[str, Any]:
    """The real exporter sending the same spans to a null endpoint (``traces_otlp.py sink``) that stores
    nothing: how fast the exporter itself goes here, the ceiling of the end-to-end row."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, str(WORKLOAD), "sink", str(port)]
    with server(cmd, dict(os.environ), tmp, f"{url}/health", {}):
        cfg = {"endpoint": f"{url}/v1/traces", "headers": {}, "traces": traces,
               "spans_per_trace": SPANS_PER_TRACE, "mode": "exporter"}  # fmt: skip
        out = subprocess.run([sys.executable, str(WORKLOAD), json.dumps(cfg)], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    sent = json.loads(out)
    seconds = sent["flushed"] - sent["start"]
    return {**sent, "spans": traces * SPANS_PER_TRACE, "spans_per_s": traces * SPANS_PER_TRACE / seconds}


def run_mlflow(tmp: Path, traces: int) -> dict[str, Any]:
    py = mlflow_python()
    version = subprocess.run(
        [str(py), "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    ml_dir = tmp / "mlflow"
    ml_dir.mkdir()
    db = ml_dir / "mlflow.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(py.parent / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}",
           "--default-artifact-root", str(ml_dir / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]  # fmt: skip
    peak: dict[str, float | None] = {}
    with server(cmd, mlflow_env(), ml_dir, f"{url}/health", peak):
        result: dict[str, Any] = {
            mode: _send(
                f"{url}/v1/traces",
                {"x-mlflow-experiment-id": "0"},
                traces,
                db,
                "SELECT count(*) FROM spans",
                mode,
            )
            for mode in MODES
        }
    result["server_peak_rss_mb"] = peak.get("mb")
    result["version"] = version
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=1000)
    ap.add_argument("--no-mlflow", action="store_true", help="only llmloop (MLflow takes minutes)")
    args = ap.parse_args(argv)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(
        prefix="llmloop-bench-traces-", dir=os.environ.get("LLMLOOP_BENCH_TMPDIR")
    ) as t:
        tmp = Path(t)
        ceiling = exporter_ceiling(tmp, args.traces)
        ours = run_llmloop(tmp, args.traces)
        peer: dict[str, Any] | None = None
        if not args.no_mlflow:
            try:
                peer = run_mlflow(tmp, args.traces)
            except Exception as e:  # the table says what happened instead of failing the whole bench
                notes.append(f"MLflow could not be run: {type(e).__name__}: {e}")
    name = f"MLflow {peer['version']}" if peer else "MLflow (not run)"

    def pick(r: dict[str, Any] | None, mode: str, key: str) -> float | None:
        return r[mode][key] if r and r[mode][key] is not None else None

    def ms_per_1000(r: dict[str, Any] | None, mode: str) -> float | None:
        seconds = pick(r, mode, "end_to_end_s")
        return seconds * 1000 * 1000 / r[mode]["spans"] if r and seconds else None

    def missing(r: dict[str, Any] | None) -> float | None:
        return float(sum(r[m]["spans"] - min(r[m]["stored"], r[m]["spans"]) for m in MODES)) if r else None

    def _short(rate: float | None, ceiling: dict[str, Any]) -> float | None:
        return max(0.0, 100.0 * (1 - rate / ceiling["spans_per_s"])) if rate else None

    rows = [
        Row("spans stored per second, real exporter to queryable", "spans/s", pick(ours, "exporter", "spans_per_s"),
            pick(peer, "exporter", "spans_per_s")),
        Row("the exporter's own ceiling (the same exporter to a null endpoint)", "spans/s",
            ceiling["spans_per_s"]),
        Row("real exporter to queryable, short of the exporter's ceiling by", "%",
            _short(pick(ours, "exporter", "spans_per_s"), ceiling), _short(pick(peer, "exporter", "spans_per_s"), ceiling),
            higher_is_better=False, target_max=10.0),
        Row("end-to-end time per 1,000 spans, real exporter (20,000 spans/s = 50 ms)", "ms",
            ms_per_1000(ours, "exporter"), ms_per_1000(peer, "exporter"), higher_is_better=False, target_max=50.0),
        Row("of which the exporter's own encode + POST loop (client side)", "s", pick(ours, "exporter", "client_export_s"),
            pick(peer, "exporter", "client_export_s"), higher_is_better=False),
        Row("spans stored per second, pre-encoded bodies to queryable (the server alone)", "spans/s",
            pick(ours, "bodies", "spans_per_s"), pick(peer, "bodies", "spans_per_s")),
        Row("end-to-end time per 1,000 spans, pre-encoded bodies (50,000 spans/s = 20 ms)", "ms",
            ms_per_1000(ours, "bodies"), ms_per_1000(peer, "bodies"), higher_is_better=False, target_max=20.0),
        Row("spans missing after both runs", "spans", missing(ours), missing(peer), higher_is_better=False,
            target_max=0.0),
        Row("server peak RSS", "MB", ours["server_peak_rss_mb"], peer["server_peak_rss_mb"] if peer else None,
            higher_is_better=False),
    ]  # fmt: skip
    notes += [
        f"The exporter's ceiling: the same client and exporter sending to a null OTLP endpoint in its own process "
        f"(`traces_otlp.py sink`, reads each body and answers, stores nothing): {ceiling['spans_per_s']:,.0f} spans/s.",
        f"{args.traces} traces x {SPANS_PER_TRACE} spans (a root, a retrieval span, 3 LLM calls with GenAI "
        "attributes) created with the OpenTelemetry SDK in one client process, then exported as "
        "BatchSpanProcessor's worker does (batches of 512, one after the other) by "
        "opentelemetry-exporter-otlp-proto-http; the same client for every server. The clock starts at the "
        f"first export (creating the spans took the SDK {ours['exporter']['create_s']:.2f} s, the same for any server, "
        "and is not counted).",
        f"llmloop: `llmloop serve` on SQLite, one worker; {ours['queryable_traces']} of {len(MODES) * args.traces} traces read "
        f"back complete through /api/v1/traces; failed exports "
        f"{ours['exporter']['failed_exports'] + ours['bodies']['failed_exports']}.",
        "Two runs per server: the real exporter (its pure-Python protobuf encoding costs about as much CPU as the "
        "server's whole ingest, on the same 2 shared CPUs), then the same kind of batches encoded beforehand by "
        "the exporter's encoder and POSTed one after the other, which times the server alone.",
    ]
    if peer:
        notes.append(
            f"{name}: `mlflow server` on SQLite, one worker, spans posted to its OTLP endpoint with "
            f"`x-mlflow-experiment-id: 0` and counted in its spans table; failed exports "
            f"{peer['exporter']['failed_exports'] + peer['bodies']['failed_exports']}."
        )
    elif args.no_mlflow:
        notes.append("MLflow was not run (--no-mlflow).")
    notes.append("Arize Phoenix is not run here.")
    return {
        "title": f"Trace ingest over OTLP/HTTP: llmloop vs {name}",
        "ours": "llmloop",
        "peer": name,
        "rows": rows,
        "notes": notes,
        "raw": {"llmloop": ours, "mlflow": peer, "exporter_ceiling": ceiling},
    }


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = main(sys.argv[1:])
    print(json.dumps(result["raw"], indent=1), file=sys.stderr)
    result["duration_s"] = time.perf_counter() - t0
    result["machine"] = _report.machine()
    _, md = _report.write("traces", result)
    print(md.read_text())
