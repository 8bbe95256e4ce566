"""Gateway benchmark: an echo upstream answering instantly, loaded directly, through ``llmloop serve``
and through the LiteLLM proxy, in the same run.

    python benchmarks/bench_gateway.py [--requests-c1 1000] [--requests-c32 3000] [--litellm PATH | --no-litellm]
    python benchmarks/run.py --only gateway

Processes: the echo upstream (uvicorn), ``llmloop serve`` (one worker, tracing on, a deployment
pointing at the upstream), the LiteLLM proxy (one worker, the same upstream as an
``openai/`` model), and this one generating load with an aiohttp client at concurrency 1 and 32,
the three paths one after the other at each concurrency. Reports p50/p95 latency, throughput and
server CPU per request for each path, the latency each gateway adds at concurrency 1, and, after
a clean shutdown of ``llmloop serve``, how many of the requests sent through it left a trace.

LiteLLM is never installed into llmloop's environment: it gets its own venv,
``benchmarks/.peers/litellm``, with ``litellm[proxy]`` pinned (``LITELLM`` below), created on first
use and reused after (``_venvs.peer``). ``--litellm`` (or ``LLMLOOP_BENCH_LITELLM``) overrides it
with the ``litellm`` executable or the ``python`` of another virtualenv that has ``litellm[proxy]``.
When it cannot be installed or started the table says why and the peer column is n/a.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _report
import _venvs
from _report import Row

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
UPSTREAM = (
    "import sys, uvicorn; from tests.fakes.openai_server import FakeOpenAI; "
    "uvicorn.run(FakeOpenAI().app, host='127.0.0.1', port=int(sys.argv[1]), log_level='error', access_log=False)"
)
BODY = b'{"model":"bench","messages":[{"role":"user","content":"hello gateway"}],"max_tokens":16}'
WARMUP = 20
# Exact, so two runs compare the same proxy: the newest whose `proxy` extra resolves from PyPI as
# served here. 1.110 moved the proxy into a `litellm-proxy` package that is not served; 1.108.8 to
# 1.108.12 pin `litellm-enterprise==0.1.79.post2` and 1.108.13 on `litellm-proxy-extras` releases
# past 0.4.110, which are not served either.
LITELLM = ["litellm[proxy]==1.108.7"]
LITELLM_KEY = "sk-llmloop-bench-0123456789abcdef"  # LiteLLM's proxy refuses to start without a master key
LITELLM_CONFIG = """model_list:
  - model_name: bench
    litellm_params:
      model: openai/echo
      api_base: {upstream}
      api_key: unused
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its children (a proxy may fork a worker)."""
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


@contextlib.contextmanager
def _process(
    cmd: list[str], env: dict[str, str], cwd: Path, health: str
) -> Iterator[subprocess.Popen[bytes]]:
    import httpx

    log = (cwd / f"{Path(cmd[0]).name}-{_port()}.log").open("w")
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.time() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{cmd[:3]} did not start; see {log.name}")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


async def _load(url: str, concurrency: int, total: int, headers: dict[str, str]) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    hdrs = {"content-type": "application/json", **headers}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> None:
            nonlocal errors
            t = time.perf_counter()
            async with http.post(url, data=BODY, headers=hdrs) as r:
                await r.read()
                errors += r.status != 200
            latencies.append(time.perf_counter() - t)

        for _ in range(WARMUP):  # connections, caches, the deployment lookup
            await one()
        latencies.clear()
        todo = iter(range(total))

        async def worker() -> None:
            for _ in todo:
                await one()

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


def _measure(
    url: str, c: int, n: int, pid: int | None, headers: dict[str, str] | None = None
) -> dict[str, float]:
    before = _cpu_s(pid) if pid else 0.0
    out = asyncio.run(_load(url, c, n, headers or {}))
    if pid:
        out["server_cpu_ms_per_request"] = (_cpu_s(pid) - before) * 1000 / (n + WARMUP)
    return out


def _litellm_paths(given: str) -> tuple[Path, Path]:
    """``(litellm executable, python)`` of the virtualenv that holds LiteLLM."""
    path = Path(given)
    bindir = path.parent
    exe = path if not path.name.startswith("python") else bindir / "litellm"
    return exe, bindir / "python"


def _litellm(given: str | None, skip: bool) -> tuple[Path | None, str | None]:
    """The ``litellm`` executable to run, or None and why not: the override, else the pinned venv."""
    if skip:
        return None, "LiteLLM was not run (--no-litellm)."
    if given:
        return _litellm_paths(given)[0], None
    python, why = _venvs.try_peer("litellm", LITELLM)
    if python is None:
        return None, f"LiteLLM could not be installed, so its column is n/a: {why}"
    return python.parent / "litellm", None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests-c1", type=int, default=1000)
    ap.add_argument("--requests-c32", type=int, default=3000)
    ap.add_argument(
        "--litellm",
        default=os.environ.get("LLMLOOP_BENCH_LITELLM"),
        help="litellm or its python, instead of the pinned venv in benchmarks/.peers/litellm",
    )
    ap.add_argument("--no-litellm", action="store_true", help="only llmloop and the direct path")
    args = ap.parse_args(argv)
    lt_exe, why_not = _litellm(args.litellm, args.no_litellm)  # installs first, so no timing waits on pip
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="llmloop-bench-gateway-"))
    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
    env.update(LLMLOOP_HOME=str(home), PYTHONPATH=f"{SRC}{os.pathsep}{HERE.parent}")
    up_port, gw_port, lt_port = _port(), _port(), _port()
    upstream_v1 = f"http://127.0.0.1:{up_port}/v1"
    raw: dict[str, Any] = {}
    notes: list[str] = []
    peer = "LiteLLM (not run)"
    sent = 0
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            _process(
                [sys.executable, "-c", UPSTREAM, str(up_port)], env, tmp, f"http://127.0.0.1:{up_port}/stats"
            )
        )
        ours = stack.enter_context(
            _process(
                [sys.executable, "-m", "llmloop", "serve", "--port", str(gw_port)],
                env,
                tmp,
                f"http://127.0.0.1:{gw_port}/api/v1/health",
            )
        )
        import httpx

        spec = {"targets": [{"model": "echo", "upstream": upstream_v1}]}
        r = httpx.post(f"http://127.0.0.1:{gw_port}/api/v1/deployments", json={"name": "bench", "spec": spec})
        r.raise_for_status()
        litellm: subprocess.Popen[bytes] | None = None
        if lt_exe is not None:
            exe, python = lt_exe, lt_exe.parent / "python"
            peer = f"LiteLLM {_venvs.version(python, 'litellm')}"
            (tmp / "litellm.yaml").write_text(LITELLM_CONFIG.format(upstream=upstream_v1))
            lt_env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMLOOP_", "PYTHON"))}
            lt_env.update(LITELLM_MASTER_KEY=LITELLM_KEY, LITELLM_LOCAL_MODEL_COST_MAP="True")
            cmd = [
                str(exe),
                "--config",
                str(tmp / "litellm.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(lt_port),
            ]
            try:
                litellm = stack.enter_context(
                    _process(
                        [*cmd, "--num_workers", "1"],
                        lt_env,
                        tmp,
                        f"http://127.0.0.1:{lt_port}/health/liveliness",
                    )
                )
            except RuntimeError as exc:
                log = next(tmp.glob("litellm-*.log"), None)
                tail = log.read_text()[-1500:] if log else ""
                why_not = f"{peer} did not start, so its column is n/a: {exc}\n{tail}"
                peer = f"{peer} (not run)"
        if why_not:
            notes.append(why_not + " The 10x-LiteLLM target is not checked.")
        paths = {
            "direct": (f"{upstream_v1}/chat/completions", None, None),
            "llmloop": (f"http://127.0.0.1:{gw_port}/v1/chat/completions", ours.pid, None),
        }
        if litellm is not None:
            paths["litellm"] = (
                f"http://127.0.0.1:{lt_port}/v1/chat/completions",
                litellm.pid,
                {"authorization": f"Bearer {LITELLM_KEY}"},
            )
        for c, n in ((1, args.requests_c1), (32, args.requests_c32)):
            for name, (url, pid, headers) in paths.items():
                raw[f"{name}_c{c}"] = _measure(url, c, n, pid, headers)
                print(f"c={c} {name}: {raw[f'{name}_c{c}']}", file=sys.stderr, flush=True)
            sent += n + WARMUP
        os.kill(ours.pid, signal.SIGTERM)  # a clean shutdown: every queued span must be written
        ours.wait(timeout=60)
    db = sqlite3.connect(home / "llmloop.db")
    traces = db.execute(
        "SELECT count(*) FROM traces WHERE name = 'gateway chat' AND model = 'bench'"
    ).fetchone()[0]
    spans = db.execute("SELECT count(*) FROM spans").fetchone()[0]
    db.close()
    raw["traces_recorded"] = {"sent": sent, "traces": traces, "spans": spans, "pct": 100.0 * traces / sent}
    lt = "litellm" in paths

    def added(name: str) -> float | None:
        if f"{name}_c1" not in raw:
            return None
        return float(raw[f"{name}_c1"]["p50_ms"] - raw["direct_c1"]["p50_ms"])

    def get(name: str, c: int, key: str) -> float | None:
        return raw[f"{name}_c{c}"][key] if f"{name}_c{c}" in raw else None

    rows = [
        Row("latency added at concurrency 1 (p50 through it minus p50 direct)", "ms", added("llmloop"),
            added("litellm"), higher_is_better=False, target_max=1.0),
        Row("p50 latency, concurrency 1", "ms", get("llmloop", 1, "p50_ms"), get("litellm", 1, "p50_ms"),
            higher_is_better=False),
        Row("throughput, concurrency 32", "req/s", get("llmloop", 32, "rps"), get("litellm", 32, "rps"),
            target_ratio=10.0),
        Row("p50 latency, concurrency 32", "ms", get("llmloop", 32, "p50_ms"), get("litellm", 32, "p50_ms"),
            higher_is_better=False),
        Row("server CPU per request, concurrency 32", "ms", get("llmloop", 32, "server_cpu_ms_per_request"),
            get("litellm", 32, "server_cpu_ms_per_request"), higher_is_better=False),
        Row("traces missing after a clean shutdown (of requests sent through llmloop)", "traces",
            float(sent - traces), None, higher_is_better=False, target_max=0.0,
            note=f"{traces} of {sent} stored, {spans} spans"),
    ]  # fmt: skip
    direct = "; ".join(
        f"c={c}: p50 {raw[f'direct_c{c}']['p50_ms']:.2f} ms, {raw[f'direct_c{c}']['rps']:.0f} req/s"
        for c in (1, 32)
    )
    notes += [
        f"Echo upstream answering instantly, hit directly: {direct}. Load comes from one aiohttp client in this "
        f"process ({args.requests_c1} requests at concurrency 1, {args.requests_c32} at 32, after {WARMUP} warm-up "
        "requests each), sharing the machine with the servers; at concurrency 32 the client and the upstream "
        "take CPU too, so throughput is bounded by the machine, not only by the gateway.",
        "llmloop: `llmloop serve` (one uvicorn worker, uvloop + httptools, local mode without auth), a deployment "
        "`bench` → the upstream; every request is traced (3 spans) by the batched writer into SQLite.",
    ]
    if lt:
        notes.append(
            f"{peer}: `litellm --config … --num_workers 1` in its own virtualenv, the upstream as `openai/echo`, "
            "a master key (it refuses to start without one), otherwise its defaults (no database, so no spend "
            "logs; its access log on, as shipped)."
        )
    notes.append(
        "Server CPU per request: user+system CPU seconds of the server's process tree over the load, divided "
        "by the requests (warm-up included)."
    )
    notes.append(_report.load_note(load0))
    return {
        "title": f"Serving gateway: llmloop vs {peer}",
        "ours": "llmloop",
        "peer": peer,
        "rows": rows,
        "notes": notes,
        "raw": raw,
    }


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = main(sys.argv[1:])
    result["duration_s"] = time.perf_counter() - t0
    result["machine"] = _report.machine()
    _, md = _report.write("gateway", result)
    print(md.read_text())
