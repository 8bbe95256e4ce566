"""Experiment tracking, llmloop against MLflow, side by side in one run on this machine.

Both use a SQLite file in a fresh temporary folder, first in-process ("local") and then
through their own server on 127.0.0.1 ("http"; each server on the same SQLite file, one
worker each). The two clients are scripts in ``workloads/`` that do the same things with
the same names, values and random seed, each in its own process: MLflow's in a separate
virtual environment (``benchmarks/.peers/mlflow``, created on first use, MLflow pinned),
so MLflow never enters llmloop's environment.

Measured: single ``log_metric`` calls/s (ours buffered, so also the rate until every value
is stored, and a check that all of them are), batched values/s (MLflow ``log_batch`` of
1,000 against our client's ``log_batch`` of 1,000), runs created/s (5 params + 5 metrics,
``with start_run``), search of 1,000 runs on a metric (median latency), import and
``--help`` times, and peak memory. MLflow is slow, so it gets fewer iterations; rates are
comparable, totals are not.

Environment: ``LLMLOOP_BENCH_MLFLOW_PYTHON`` (use this interpreter for MLflow instead of the
bench venv), ``LLMLOOP_BENCH_TMPDIR`` (where the stores go; default the system temp dir).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
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
MLFLOW_VERSION = "3.17.2"
WORKLOADS = HERE / "workloads"

# Sizes: ours runs long enough to time, MLflow (tens to thousands of times slower) short
# enough to wait for. MLflow's local phase times 150 runs and tops the searched experiment
# up to 1,000 untimed, through its client API (2 calls a run instead of 5).
LLMLOOP_CFG = {
    "local": {"single_n": 50_000, "batch_size": 1000, "batches": 50, "runs_n": 1000, "search_repeat": 7},
    "http": {"single_n": 50_000, "batch_size": 1000, "batches": 50, "runs_n": 300, "search_repeat": 7},
}
MLFLOW_CFG = {
    "local": {
        "single_n": 150,
        "batch_size": 1000,
        "batches": 5,
        "runs_n": 150,
        "seed_to": 1000,
        "search_repeat": 3,
    },
    "http": {"single_n": 40, "batch_size": 1000, "batches": 2, "runs_n": 15, "search_repeat": 3},
}
SEARCH_PROJECT = "search"  # the local phase fills it with 1,000 runs; both phases search it
# uvicorn's fast HTTP parser and event loop, in both environments, so both servers run the same stack
SERVER_SPEEDUPS = ["httptools", "uvloop"]
MLFLOW = [f"mlflow=={MLFLOW_VERSION}", *SERVER_SPEEDUPS]  # benchmarks/.peers/mlflow


def mlflow_python() -> Path:
    """The bench venv's interpreter with MLflow installed, creating the venv on first use."""
    override = os.environ.get("LLMLOOP_BENCH_MLFLOW_PYTHON")
    if override:
        return Path(override)
    return _venvs.peer("mlflow", MLFLOW)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def llmloop_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for llmloop: this checkout's code, the given home, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.update(LLMLOOP_HOME=str(home), LLMLOOP_FLUSH_INTERVAL_S="1.0", **extra)
    return env


def mlflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMLOOP_", "MLFLOW_", "PYTHON"))}
    env.update(GIT_PYTHON_REFRESH="quiet", MLFLOW_DISABLE_TELEMETRY="true")
    return env


def run_workload(python: Path | str, script: str, cfg: dict[str, Any], env: dict[str, str], cwd: Path) -> Any:
    proc = subprocess.run(
        [str(python), str(WORKLOADS / script), json.dumps(cfg)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def server(
    cmd: list[str], env: dict[str, str], cwd: Path, health: str, peak: dict[str, float | None]
) -> Iterator[None]:
    """Run a server until the block ends; record its process tree's peak memory in ``peak``."""
    import httpx

    log = (cwd / f"server-{free_port()}.log").open("w")
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
        yield
        peak["mb"] = _report.tree_peak_rss_mb(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


def import_seconds(python: Path | str, module: str, env: dict[str, str], repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = []
    for _ in range(repeat):
        res = subprocess.run([str(python), "-c", code], env=env, capture_output=True, text=True, check=True)
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return _report.median(out)


def startup(mlflow_py: Path, tmp: Path) -> list[Row]:
    ours_env, ml_env = llmloop_env(tmp / "startup"), mlflow_env()
    mlflow_bin = mlflow_py.parent / "mlflow"
    first_use = "llmloop; llmloop.start_run"  # lazy attributes: what a script's first call pays
    return [
        Row(
            "import llmloop / import mlflow",
            "s",
            import_seconds(sys.executable, "llmloop", ours_env, 7),
            import_seconds(mlflow_py, "mlflow", ml_env, 3),  # about a second each
            higher_is_better=False,
            target_max=0.3,
        ),
        Row(
            "import llmloop + load ll.start_run",
            "s",
            import_seconds(sys.executable, first_use, ours_env, 5),
            None,
            higher_is_better=False,
        ),
        Row(
            "llmloop --help / mlflow --help (wall, process start to exit)",
            "s",
            _report.median(
                _report.wall_of([sys.executable, "-m", "llmloop", "--help"], env=ours_env, repeat=5)
            ),
            _report.median(_report.wall_of([str(mlflow_bin), "--help"], env=ml_env, repeat=1)),  # slow
            higher_is_better=False,
            target_max=0.5,
        ),
    ]


def compare(mode: str, ours: dict[str, Any], peer: dict[str, Any]) -> list[Row]:
    label = {"local": "local SQLite", "http": "over HTTP"}[mode]
    rows = [
        Row(
            f"[{label}] single log_metric calls",
            "calls/s",
            ours["single"]["rate"],
            peer["single"]["rate"],
            target_ratio=100,
            note="ours buffered; MLflow synchronous",
        ),
        Row(
            f"[{label}] single log_metric, until all stored",
            "values/s",
            ours["single"]["rate_all_stored"],
            peer["single"]["rate"],
            note="ours: calls + final flush at run end",
        ),
        Row(
            f"[{label}] batched metric values (1,000 per batch)",
            "values/s",
            ours["batch"]["rate"],
            peer["batch"]["rate"],
            target_ratio=10,
        ),
        Row(
            f"[{label}] runs created (5 params + 5 metrics)",
            "runs/s",
            ours["runs"]["rate"],
            peer["runs"]["rate"],
            target_ratio=20,
        ),
        Row(
            f"[{label}] search 1,000 runs on a metric, all ~500 matches (median)",
            "ms",
            ours["search"]["ms"],
            peer["search"]["ms"],
            higher_is_better=False,
            target_max=30,
        ),
        Row(
            f"[{label}] same search, first 100 matches (median)",
            "ms",
            ours["search_top100"]["ms"],
            peer["search_top100"]["ms"],
            higher_is_better=False,
        ),
    ]
    return rows


def check(mode: str, ours: dict[str, Any], peer: dict[str, Any], cfg_ours: dict[str, Any]) -> list[str]:
    """Refuse a fast result that lost data; note anything odd about the peer."""
    single = ours["single"]
    if single["stored"] != cfg_ours["single_n"] or not single["exact"]:
        raise AssertionError(f"[{mode}] llmloop stored {single['stored']} of {cfg_ours['single_n']} values")
    if ours["batch"]["stored"] != ours["batch"]["n"]:
        raise AssertionError(
            f"[{mode}] llmloop stored {ours['batch']['stored']} of {ours['batch']['n']} batched values"
        )
    if ours["search"]["runs"] != 1000:
        raise AssertionError(f"[{mode}] the search project holds {ours['search']['runs']} runs, not 1,000")
    notes = []
    for part in ("single", "batch"):
        if peer[part]["stored"] != peer[part]["n"]:
            notes.append(f"[{mode}] MLflow stored {peer[part]['stored']} of {peer[part]['n']} {part} values")
    if ours["search"]["found"] != peer["search"]["found"] or peer["search"]["runs"] != 1000:
        notes.append(
            f"[{mode}] search results differ: llmloop {ours['search']['found']} of {ours['search']['runs']}, "
            f"MLflow {peer['search']['found']} of {peer['search']['runs']}"
        )
    return notes


def run_mlflow(mode: str, cfg: dict[str, Any], mlflow_py: Path, ml_dir: Path, peak: dict[str, Any]) -> Any:
    db = f"sqlite:///{ml_dir / 'mlflow.db'}"
    if mode == "local":
        return run_workload(
            mlflow_py, "tracking_mlflow.py", {**cfg, "tracking_uri": db}, mlflow_env(), ml_dir
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(mlflow_py.parent / "mlflow"), "server", "--backend-store-uri", db, "--default-artifact-root",
           str(ml_dir / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    with server(cmd, mlflow_env(), ml_dir, f"{url}/health", peak):
        return run_workload(
            mlflow_py, "tracking_mlflow.py", {**cfg, "tracking_uri": url}, mlflow_env(), ml_dir
        )


def run_llmloop(mode: str, cfg: dict[str, Any], home: Path, tmp: Path, peak: dict[str, Any]) -> Any:
    if mode == "local":
        return run_workload(sys.executable, "tracking_llmloop.py", cfg, llmloop_env(home), tmp)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "llmloop", "server", "--port", str(port)]
    with server(cmd, llmloop_env(home), tmp, f"{url}/api/v1/health", peak):
        client_env = llmloop_env(tmp / "client", LLMLOOP_SERVER_URL=url)
        return run_workload(sys.executable, "tracking_llmloop.py", cfg, client_env, tmp)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv`` (``None``: the command line; it takes no flags, only ``--help``), then measure."""
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args(argv)
    mlflow_py = mlflow_python()
    raw: dict[str, Any] = {}
    notes: list[str] = []
    tmp_root = os.environ.get("LLMLOOP_BENCH_TMPDIR")
    with tempfile.TemporaryDirectory(prefix="llmloop-bench-", dir=tmp_root) as t:
        tmp = Path(t)
        ours_home, ml_dir = tmp / "llmloop", tmp / "mlflow"
        ml_dir.mkdir()
        rows = startup(mlflow_py, tmp)
        peak: dict[str, dict[str, Any]] = {"ours": {}, "peer": {}}
        for mode in ("local", "http"):
            # the local phase creates the 1,000 searched runs; the http phase creates its own elsewhere
            common = {"mode": mode, "search_project": SEARCH_PROJECT, "runs_project": f"runs-{mode}"}
            if mode == "local":
                common["runs_project"] = SEARCH_PROJECT
            cfg_o, cfg_m = {**LLMLOOP_CFG[mode], **common}, {**MLFLOW_CFG[mode], **common}
            print(f"   {mode}: MLflow", file=sys.stderr, flush=True)
            peer = run_mlflow(mode, cfg_m, mlflow_py, ml_dir, peak["peer"])
            print(f"   {mode}: llmloop", file=sys.stderr, flush=True)
            ours = run_llmloop(mode, cfg_o, ours_home, tmp, peak["ours"])
            if not ours["module"].startswith(str(SRC)):
                raise AssertionError(f"benchmarked {ours['module']}, not this checkout's {SRC}")
            notes += check(mode, ours, peer, cfg_o)
            rows += compare(mode, ours, peer)
            raw[mode] = {"llmloop": ours, "mlflow": peer, "config": {"llmloop": cfg_o, "mlflow": cfg_m}}
    local = raw["local"]
    rows += [
        Row("[local SQLite] client process peak RSS", "MB", local["llmloop"]["peak_rss_mb"],
            local["mlflow"]["peak_rss_mb"], higher_is_better=False),
        Row("[over HTTP] server peak RSS (all its processes)", "MB", peak["ours"].get("mb"),
            peak["peer"].get("mb"), higher_is_better=False),
    ]  # fmt: skip
    version = local["mlflow"]["version"]
    notes += [
        f"MLflow {version} with its defaults (synchronous logging; SQLite in its default rollback-journal mode, so "
        "every commit waits for the disk); llmloop's SQLite runs in WAL mode with synchronous=NORMAL (durable "
        "against a crashed process, not against a power cut mid-commit).",
        "Both servers: one worker process on 127.0.0.1, uvicorn with httptools and uvloop installed in both "
        "environments, over the SQLite file their local phase filled.",
        f"Iterations: llmloop {LLMLOOP_CFG}; MLflow {MLFLOW_CFG}. Search: median after one warm-up call, filter "
        "`metrics.m0 > 0.5` ordered by it, over 1,000 runs with 5 params and 5 metrics each (llmloop found "
        f"{local['llmloop']['search']['found']}, MLflow {local['mlflow']['search']['found']}).",
        "Every single and batched value llmloop logged was read back after its run ended and compared (the "
        "bench fails otherwise).",
        "The machine is shared: see the load average below; rates on both sides scale with the CPU they got.",
    ]
    return {
        "title": f"Experiment tracking: llmloop vs MLflow {version}",
        "ours": "llmloop",
        "peer": f"MLflow {version}",
        "rows": rows,
        "notes": notes,
        "raw": raw,
    }
