"""Gateway benchmark: the echo upstream answering instantly, loaded directly and through ``llmloop serve``.

    PYTHONPATH=src python benchmarks/bench_gateway.py [--requests-c1 300] [--requests-c32 2000]

Three processes: the echo upstream (uvicorn), ``llmloop serve`` (one worker, tracing on, a
deployment pointing at the upstream), and this one generating load with an async httpx client
at concurrency 1 and 32. Reports p50/p95 latency and throughput for each path, the latency the
gateway adds at concurrency 1, and after a clean shutdown of the server, how many of the
requests sent through it left a trace in the store. Writes benchmarks/results/gateway.json/.md.
LiteLLM is not run side by side (not installed here); see the closing note of the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent
UPSTREAM = (
    "import sys, uvicorn; from llmloop.serve.echo_upstream import EchoUpstream; "
    "uvicorn.run(EchoUpstream().app, host='127.0.0.1', port=int(sys.argv[1]), log_level='error', access_log=False)"
)
BODY = {"model": "bench", "messages": [{"role": "user", "content": "hello gateway"}], "max_tokens": 16}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: process exited") from None
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def _load(url: str, concurrency: int, total: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(min(20, total)):  # warm up connections and caches
            await client.post(url, json=BODY)
        todo = iter(range(total))

        async def worker() -> None:
            nonlocal errors
            for _ in todo:
                t = time.perf_counter()
                r = await client.post(url, json=BODY)
                latencies.append(time.perf_counter() - t)
                errors += r.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": total,
        "errors": errors,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "rps": total / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests-c1", type=int, default=300)
    ap.add_argument("--requests-c32", type=int, default=2000)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="llmloop-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
    env.update(LLMLOOP_HOME=str(home), PYTHONPATH=str(ROOT.parent / "src"))
    up_port, gw_port = _port(), _port()
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port)], env=env)
    server = subprocess.Popen([sys.executable, "-m", "llmloop", "serve", "--port", str(gw_port)], env=env)
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs (shared)", "python": sys.version.split()[0]}
    try:
        _wait(f"http://127.0.0.1:{up_port}/stats", upstream)
        _wait(f"http://127.0.0.1:{gw_port}/api/v1/health", server)
        spec = {"targets": [{"model": "echo", "upstream": f"http://127.0.0.1:{up_port}/v1"}]}
        r = httpx.post(f"http://127.0.0.1:{gw_port}/api/v1/deployments", json={"name": "bench", "spec": spec})
        r.raise_for_status()
        direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
        gateway = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        sent = 0
        for c, n in ((1, args.requests_c1), (32, args.requests_c32)):
            results[f"direct_c{c}"] = asyncio.run(_load(direct, c, n))
            results[f"gateway_c{c}"] = asyncio.run(_load(gateway, c, n))
            sent += n + min(20, n)
            print(
                f"c={c}: direct {results[f'direct_c{c}']}\n      gateway {results[f'gateway_c{c}']}",
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        upstream.terminate()
        upstream.wait(timeout=30)
    db = sqlite3.connect(home / "llmloop.db")
    traces = db.execute(
        "SELECT count(*) FROM traces WHERE name = 'gateway chat' AND model = 'bench'"
    ).fetchone()[0]
    spans = db.execute("SELECT count(*) FROM spans").fetchone()[0]
    results["traces_recorded"] = {
        "sent": sent,
        "traces": traces,
        "spans": spans,
        "pct": 100.0 * traces / sent,
    }
    results["gateway_added_p50_ms_c1"] = results["gateway_c1"]["p50_ms"] - results["direct_c1"]["p50_ms"]
    results["litellm"] = "not run: litellm is not installed here and was not installed for this run"
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "gateway.json").write_text(json.dumps(results, indent=2))
    rows = [
        f"| {path} | {c} | {results[f'{path}_c{c}']['p50_ms']:.2f} | {results[f'{path}_c{c}']['p95_ms']:.2f} "
        f"| {results[f'{path}_c{c}']['rps']:.0f} | {results[f'{path}_c{c}']['errors']} |"
        for c in (1, 32)
        for path in ("direct", "gateway")
    ]
    t = results["traces_recorded"]
    md = "\n".join(
        [
            "# Gateway benchmark",
            "",
            f"Echo upstream answering instantly; load from one async httpx client; {results['machine']}.",
            "",
            "| path | concurrency | p50 ms | p95 ms | req/s | errors |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Gateway-added p50 at concurrency 1: {results['gateway_added_p50_ms_c1']:.2f} ms.",
            f"Traces recorded after a clean shutdown: {t['traces']} of {t['sent']} requests ({t['pct']:.1f}%), "
            f"{t['spans']} spans.",
            f"LiteLLM: {results['litellm']}.",
            "",
        ]
    )
    (out / "gateway.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
