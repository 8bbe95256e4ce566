"""Trace ingest: 1,000 traces x 5 spans from the real OpenTelemetry OTLP/HTTP exporter, until all are stored.

    python benchmarks/bench_traces.py [--traces 1000] [--peers mlflow,phoenix]
    python benchmarks/run.py --only traces

One client script (``workloads/traces_otlp.py``: OpenTelemetry SDK, BatchSpanProcessor,
``opentelemetry-exporter-otlp-proto-http``) sends the same spans to each server's OTLP endpoint:
``llmloop serve`` (one worker, SQLite) at ``/v1/traces``, the MLflow tracking server (one
worker, SQLite, MLflow in its own venv as ``bench_tracking`` makes it, ``benchmarks/.peers/mlflow``)
at its ``/v1/traces``, and Arize Phoenix (``phoenix serve``, SQLite in a fresh working directory,
telemetry off, pinned in ``benchmarks/.peers/phoenix``) at its OTLP/HTTP ``/v1/traces``.
End to end is from the first span created to the moment this process counts every span in the
server's SQLite file (polled every 10 ms); the traces are then read back through llmloop's
``/api/v1/traces`` to check that each one is complete. The peers' venvs are created on first use
(``_venvs.peer``); a peer that cannot be installed or started is reported with the reason in the
notes and its rows say n/a, never dropped.

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
import _venvs
from _report import Row
from bench_tracking import free_port, llmloop_env, mlflow_env, mlflow_python, server

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workloads" / "traces_otlp.py"
SPANS_PER_TRACE = 5
MODES = ("exporter", "bodies")
PHOENIX = ["arize-phoenix==20.26.1"]  # exact, so two runs compare the same Phoenix
PEERS = {"mlflow": "MLflow", "phoenix": "Phoenix"}


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


def run_mlflow(tmp: Path, traces: int, py: Path) -> dict[str, Any]:
    version = _venvs.version(py, "mlflow")
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


def run_phoenix(tmp: Path, traces: int, py: Path) -> dict[str, Any]:
    """Arize Phoenix's own server on SQLite (its default store) in a fresh working directory."""
    work = tmp / "phoenix"
    work.mkdir()
    port, grpc = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMLOOP_", "PHOENIX_", "PYTHON"))}
    env.update(PHOENIX_WORKING_DIR=str(work), PHOENIX_HOST="127.0.0.1", PHOENIX_PORT=str(port),
               PHOENIX_GRPC_PORT=str(grpc), PHOENIX_TELEMETRY_ENABLED="false")  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    peak: dict[str, float | None] = {}
    with server([str(py), "-m", "phoenix.server.main", "serve"], env, work, f"{url}/healthz", peak):
        result: dict[str, Any] = {
            mode: _send(
                f"{url}/v1/traces", {}, traces, work / "phoenix.db", "SELECT count(*) FROM spans", mode
            )
            for mode in MODES
        }
    result["server_peak_rss_mb"] = peak.get("mb")
    result["version"] = _venvs.version(py, "arize-phoenix")
    return result


def peer_python(name: str) -> tuple[Path | None, str | None]:
    """The peer's interpreter, installed on first use, or None and why it could not be."""
    if name == "mlflow":
        try:
            return mlflow_python(), None
        except _venvs.PeerUnavailable as exc:
            return None, str(exc)
    return _venvs.try_peer(name, PHOENIX)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=1000)
    ap.add_argument(
        "--peers", default="mlflow,phoenix", help="comma-separated, of: mlflow, phoenix ('' for none)"
    )
    ap.add_argument("--no-mlflow", action="store_true", help="drop MLflow from --peers (it takes minutes)")
    args = ap.parse_args(argv)
    names = [p for p in args.peers.split(",") if p and not (args.no_mlflow and p == "mlflow")]
    if unknown := [p for p in names if p not in PEERS]:
        ap.error(f"--peers: unknown {unknown}; known: {sorted(PEERS)}")
    pythons = {name: peer_python(name) for name in names}  # installs first, so no timing waits on pip
    load0 = os.getloadavg()
    notes: list[str] = []
    peers: dict[str, dict[str, Any] | None] = {}
    runners = {"mlflow": run_mlflow, "phoenix": run_phoenix}
    with tempfile.TemporaryDirectory(
        prefix="llmloop-bench-traces-", dir=os.environ.get("LLMLOOP_BENCH_TMPDIR")
    ) as t:
        tmp = Path(t)
        ceiling = exporter_ceiling(tmp, args.traces)
        ours = run_llmloop(tmp, args.traces)
        for name in names:
            py, why = pythons[name]
            peers[name] = None
            if py is None:
                notes.append(f"{PEERS[name]} could not be installed, so its rows say n/a: {why}")
                continue
            try:
                peers[name] = runners[name](tmp, args.traces, py)
            except Exception as e:  # the table says what happened instead of failing the whole bench
                notes.append(f"{PEERS[name]} could not be run, so its rows say n/a: {type(e).__name__}: {e}")
    labels = {n: f"{PEERS[n]} {r['version']}" if r else f"{PEERS[n]} (not run)" for n, r in peers.items()}

    def pick(r: dict[str, Any] | None, mode: str, key: str) -> float | None:
        return r[mode][key] if r and r[mode][key] is not None else None

    def ms_per_1000(r: dict[str, Any] | None, mode: str) -> float | None:
        seconds = pick(r, mode, "end_to_end_s")
        return seconds * 1000 * 1000 / r[mode]["spans"] if r and seconds else None

    def missing(r: dict[str, Any] | None) -> float | None:
        return float(sum(r[m]["spans"] - min(r[m]["stored"], r[m]["spans"]) for m in MODES)) if r else None

    def _short(rate: float | None, ceiling: dict[str, Any]) -> float | None:
        return max(0.0, 100.0 * (1 - rate / ceiling["spans_per_s"])) if rate else None

    def rows_against(peer: dict[str, Any] | None, label: str, targets: bool) -> list[Row]:
        """The rows that compare llmloop with one peer; the targets (llmloop's own) on the first peer's only."""

        def t(value: float) -> float | None:
            return value if targets else None

        vs = f", vs {label}" if label else ""
        return [
            Row(f"spans stored per second, real exporter to queryable{vs}", "spans/s",
                pick(ours, "exporter", "spans_per_s"), pick(peer, "exporter", "spans_per_s")),
            Row(f"real exporter to queryable, short of the exporter's ceiling by{vs}", "%",
                _short(pick(ours, "exporter", "spans_per_s"), ceiling),
                _short(pick(peer, "exporter", "spans_per_s"), ceiling), higher_is_better=False, target_max=t(10.0)),
            Row(f"end-to-end time per 1,000 spans, real exporter (20,000 spans/s = 50 ms){vs}", "ms",
                ms_per_1000(ours, "exporter"), ms_per_1000(peer, "exporter"), higher_is_better=False,
                target_max=t(50.0)),
            Row(f"of which the exporter's own encode + POST loop (client side){vs}", "s",
                pick(ours, "exporter", "client_export_s"), pick(peer, "exporter", "client_export_s"),
                higher_is_better=False),
            Row(f"spans stored per second, pre-encoded bodies to queryable (the server alone){vs}", "spans/s",
                pick(ours, "bodies", "spans_per_s"), pick(peer, "bodies", "spans_per_s")),
            Row(f"end-to-end time per 1,000 spans, pre-encoded bodies (50,000 spans/s = 20 ms){vs}", "ms",
                ms_per_1000(ours, "bodies"), ms_per_1000(peer, "bodies"), higher_is_better=False,
                target_max=t(20.0)),
            Row(f"spans missing after both runs{vs}", "spans", missing(ours), missing(peer),
                higher_is_better=False, target_max=t(0.0)),
            Row(f"server peak RSS{vs}", "MB", ours["server_peak_rss_mb"],
                peer["server_peak_rss_mb"] if peer else None, higher_is_better=False),
        ]  # fmt: skip

    rows = [
        Row(
            "the exporter's own ceiling (the same exporter to a null endpoint)",
            "spans/s",
            ceiling["spans_per_s"],
        )
    ]
    for i, name in enumerate(names or [""]):
        rows += rows_against(peers.get(name), labels.get(name, ""), targets=i == 0)
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
        "The targets are llmloop's own and are checked once, on the rows against the first peer.",
    ]  # fmt: skip
    failed = {
        n: r["exporter"]["failed_exports"] + r["bodies"]["failed_exports"] for n, r in peers.items() if r
    }
    if peers.get("mlflow"):
        notes.append(
            f"{labels['mlflow']}: `mlflow server` on SQLite, one worker, spans posted to its OTLP endpoint with "
            f"`x-mlflow-experiment-id: 0` and counted in its spans table; failed exports {failed['mlflow']}."
        )
    if peers.get("phoenix"):
        notes.append(
            f"{labels['phoenix']}: `phoenix serve` (its one uvicorn process) on SQLite in a fresh PHOENIX_WORKING_DIR, "
            "telemetry off, spans posted to its OTLP/HTTP endpoint (project `default`) and counted in its spans "
            f"table; failed exports {failed['phoenix']}. It answers each POST at once and writes the spans from an "
            "in-process queue (its BulkInserter, at its defaults: up to 100 spans a transaction), so its client-side "
            "loop is short and the end-to-end time is that queue draining into SQLite."
        )
    for name in PEERS:
        if name not in names:
            notes.append(f"{PEERS[name]} was not run (left out of --peers).")
    notes.append(_report.load_note(load0))
    peer_label = " / ".join(labels.values()) or "no peer"
    return {
        "title": f"Trace ingest over OTLP/HTTP: llmloop vs {peer_label}",
        "ours": "llmloop",
        "peer": peer_label,
        "rows": rows,
        "notes": notes,
        "raw": {"llmloop": ours, **peers, "exporter_ceiling": ceiling, "load_start": load0},
    }


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = main(sys.argv[1:])
    print(json.dumps(result["raw"], indent=1), file=sys.stderr)
    result["duration_s"] = time.perf_counter() - t0
    result["machine"] = _report.machine()
    _, md = _report.write("traces", result)
    print(md.read_text())
