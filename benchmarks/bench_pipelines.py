"""Pipelines: orchestration overhead of 100 tiny steps against Prefect 3 and ZenML, and what a cache hit costs.

Side by side in one run, each tool in a process of its own on a fresh store in a temporary
folder, running the same workload (``workloads/pipelines_*.py``): a chain of 100 tiny Python
steps, each returning its input + 1, first run (every step a miss that stores its output) and
again (every step a cache hit), after a 1-step warm-up that opens the store or starts the
server. Each script reports its own wall times as JSON; the benchmark also times the whole
process (interpreter start to exit), its CPU seconds and its process tree's peak memory.

- llmloop: the ``inline`` executor (steps in the pipeline's process, as Prefect's and ZenML's
  local defaults run them) and the ``local`` executor (each step in a worker subprocess, kept
  warm within the run) for the same steps, reported per step; embedded SQLite store.
- Prefect (pinned, ``PREFECT`` below) in ``benchmarks/.peers/prefect``: no cloud,
  ``PREFECT_API_URL`` unset so it starts its temporary local server (SQLite) in a temporary
  ``PREFECT_HOME``; tasks cached on inputs + source with persisted results (Prefect 3's
  default policy also keys on the flow run, so it would never hit across runs); logging at
  WARNING so the console does not cost it time.
- ZenML (pinned, ``ZENML`` below) in ``benchmarks/.peers/zenml``: its default local stack
  (local orchestrator, local artifact store, SQLite) in a temporary ``ZENML_CONFIG_PATH``,
  caching on (its default).

The peers' venvs are created on first use (``_venvs.peer``); a peer that cannot be installed
or run is reported with the reason in the table's notes, never dropped silently.

Then, in this process: a cache hit on a step whose input is a ~100 MB dataset version
(``--dataset-mb``): the key uses the digest the datasets service stored at ingest, so the hit
must cost what a hit on a tiny input costs (target: at most 10 ms per step), not a re-read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _report
import _venvs
from _report import Child, Row

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
WORKLOADS = HERE / "workloads"
PREFECT = ["prefect==3.9.1"]
ZENML = ["zenml[local]==0.98.0"]  # "local": the SQLite store; without it ZenML only talks to a server
PEERS = {"prefect": ("Prefect", PREFECT), "zenml": ("ZenML", ZENML)}
TARGET_RATIO = 10.0  # issue 17: orchestration overhead at least 10x lower than Prefect 3 and ZenML


def _clean_env(*prefixes: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LLMLOOP_", *prefixes))}


def env_for(tool: str, home: Path) -> dict[str, str]:
    """Each tool's environment: a fresh home in ``home``, nothing of the others', no telemetry."""
    if tool == "llmloop":
        return {**_clean_env(), "PYTHONPATH": str(SRC), "LLMLOOP_HOME": str(home)}
    if tool == "prefect":
        return {
            **_clean_env("PREFECT_"),
            "PREFECT_HOME": str(home),  # PREFECT_API_URL unset: a temporary local server, no cloud
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            # its default (20 s) is too short on a loaded 2-core machine: the server then never starts
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        }
    return {
        **_clean_env("ZENML_"),
        "ZENML_CONFIG_PATH": str(home),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "ZENML_LOGGING_VERBOSITY": "WARN",
        "ZENML_ENABLE_RICH_TRACEBACK": "false",
    }


def run_tool(tool: str, python: Path | str, cfg: dict[str, Any], work: Path) -> Child:
    cwd = work / f"{tool}-{cfg.get('executor', 'default')}"
    cwd.mkdir(parents=True)
    script = WORKLOADS / f"pipelines_{tool}.py"
    print(f"pipelines: {tool} {cfg}", file=sys.stderr, flush=True)
    return _report.run_child(
        [str(python), str(script), json.dumps(cfg)], env=env_for(tool, cwd / "home"), cwd=cwd
    )


def check(tool: str, child: Child, steps: int) -> str | None:
    """Why a run does not count (it failed, or its first run hit or its second missed), or None."""
    if child.error:
        return child.error
    if child.out["first_hits"] != 0 or child.out["cached_hits"] != steps:
        return (
            f"{tool}: first run {child.out['first_hits']} hits, second {child.out['cached_hits']} of {steps}"
        )
    return None


def peer_rows(
    label: str,
    ours: Child,
    ours_local: Child | None,
    peer: Child | None,
    steps: int,
    local_steps: int,
    why: str | None,
) -> list[Row]:
    """One row per measure against this peer; the peer's value is None (and the reason noted) if it failed."""
    p = peer.out if peer is not None and why is None else None
    o = ours.out
    note = f"{label} not measured: {why.splitlines()[0]}" if why else ""

    def per_step(out: dict[str, Any] | None, key: str, n: int) -> float | None:
        return None if out is None else round(out[key] / n * 1000, 2)

    rows = [
        Row(
            f"per step, first run (all misses), inline vs {label}",
            "ms",
            per_step(o, "first_s", steps),
            per_step(p, "first_s", steps),
            higher_is_better=False,
            target_ratio=TARGET_RATIO,
            note=note,
        ),
        Row(
            f"per step, second run (all hits), inline vs {label}",
            "ms",
            per_step(o, "cached_s", steps),
            per_step(p, "cached_s", steps),
            higher_is_better=False,
            target_ratio=TARGET_RATIO,
            note=note,
        ),
    ]
    if ours_local is not None and ours_local.out is not None:
        rows.append(
            Row(
                f"per step, first run, local executor ({local_steps} steps) vs {label}",
                "ms",
                per_step(ours_local.out, "first_s", local_steps),
                per_step(p, "first_s", steps),
                higher_is_better=False,
                target_ratio=TARGET_RATIO,
                note="llmloop: steps in worker subprocesses, started within the run; the peer: in its own process",
            )
        )
    rows += [
        Row(
            f"warm-up (open the store / start the server) vs {label}",
            "s",
            round(o["warmup_s"], 2),
            None if p is None else round(p["warmup_s"], 2),
            higher_is_better=False,
        ),
        Row(
            f"whole process, start to exit, vs {label}",
            "s",
            round(ours.wall_s, 2),
            None if p is None else round(peer.wall_s, 2),
            higher_is_better=False,
        ),  # type: ignore[union-attr]
        Row(
            f"CPU seconds of the whole process vs {label}",
            "s",
            round(ours.cpu_s, 2),
            None if p is None else round(peer.cpu_s, 2),
            higher_is_better=False,
        ),  # type: ignore[union-attr]
        Row(
            f"peak memory, process tree, vs {label}",
            "MB",
            ours.peak_mb and round(ours.peak_mb),
            None if p is None or peer.peak_mb is None else round(peer.peak_mb),  # type: ignore[union-attr]
            higher_is_better=False,
        ),
    ]
    return rows


STEPS = """
def rows_of(data):
    return {"value": data}
"""


def _big_rows(path: Path, mb: int) -> int:
    line = {"prompt": "Where should I travel in spring? " * 4, "completion": "Kyoto, for the blossoms. " * 12}
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < mb * 1_000_000:
            fh.write(json.dumps({**line, "prompt": f"{n} {line['prompt']}"}) + "\n")
            n += 1
    return n


def big_input_hit(work: Path, dataset_mb: int) -> tuple[list[float], int, float]:
    """Five cache hits on a step whose input is a ``dataset_mb`` MB dataset version, in this process."""
    work.mkdir(parents=True, exist_ok=True)
    os.environ["LLMLOOP_HOME"] = str(work / "home")
    for key in ("LLMLOOP_DATABASE_URL", "LLMLOOP_ARTIFACTS_URL", "LLMLOOP_SERVER_URL"):
        os.environ.pop(key, None)
    (work / "bench_steps.py").write_text(STEPS)
    sys.path.insert(0, str(work))
    import llmloop as ll
    from llmloop.config import reset_settings

    reset_settings()
    data = work / "big.jsonl"
    rows = _big_rows(data, dataset_mb)
    t0 = time.perf_counter()
    ll.datasets.add("big", str(data))
    ingest_s = time.perf_counter() - t0
    big = {
        "name": "big-input",
        "base_dir": str(work),
        "steps": [{"name": "use", "kind": "bench_steps:rows_of", "inputs": {"data": "dataset:big@1"}}],
    }
    ll.pipelines.run(big, executor="inline")
    hit_ms = []
    for _ in range(5):
        run = ll.pipelines.run(big, executor="inline")
        step = run.step("use")
        assert run.status == "finished" and step.cache == "hit", (run.status, step.cache, step.error)
        hit_ms.append(((step.ended_at or 0) - (step.started_at or 0)) * 1000)
    return hit_ms, rows, ingest_s


def peer_python(name: str) -> tuple[Path | None, str | None]:
    """The peer's venv interpreter, created on first use, or None and why it could not be."""
    try:
        return _venvs.peer(name, PEERS[name][1]), None
    except _venvs.PeerUnavailable as exc:
        return None, str(exc)


def measure(steps: int, local_steps: int, dataset_mb: int, peers: list[str]) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-pipelines-", dir=os.environ.get("LLMLOOP_BENCH_TMPDIR")))
    pythons = {name: peer_python(name) for name in peers}  # installs first, so no timing waits on pip
    load0 = tuple(round(x, 2) for x in os.getloadavg())
    ours = run_tool("llmloop", sys.executable, {"steps": steps, "executor": "inline"}, root)
    if (why := check("llmloop", ours, steps)) is not None:
        raise RuntimeError(f"llmloop's own run failed, nothing to compare: {why}")
    ours_local = None
    if local_steps:
        ours_local = run_tool("llmloop", sys.executable, {"steps": local_steps, "executor": "local"}, root)
        if (why := check("llmloop", ours_local, local_steps)) is not None:
            raise RuntimeError(f"llmloop's local-executor run failed: {why}")
    rows: list[Row] = []
    notes: list[str] = []
    raw: dict[str, Any] = {"llmloop_inline": vars(ours), "llmloop_local": ours_local and vars(ours_local)}
    versions = []
    for name in peers:
        label = PEERS[name][0]
        python, why = pythons[name]
        child = None if python is None else run_tool(name, python, {"steps": steps}, root)
        if child is not None:
            why = check(name, child, steps)
            raw[name] = vars(child)
        if why is None and child is not None:
            versions.append(f"{label} {child.out['version']}")
        else:
            versions.append(f"{label} (not measured)")
            notes.append(f"{label} was not measured: {why}")
        rows += peer_rows(label, ours, ours_local, child, steps, local_steps, why)

    hit_ms, rows_n, ingest_s = big_input_hit(root / "big", dataset_mb) if dataset_mb else ([], 0, 0.0)
    rows.append(
        Row(
            "cache hit per step, tiny input (median, the step's own time)",
            "ms",
            round(ours.out["cached_step_ms_median"], 2),
            higher_is_better=False,
            target_max=10.0,
        )
    )
    if hit_ms:
        rows.append(
            Row(
                f"cache hit, {dataset_mb} MB dataset input (median of 5)",
                "ms",
                round(statistics.median(hit_ms), 2),
                higher_is_better=False,
                target_max=10.0,
                note=f"{rows_n:,} rows; ingest took {ingest_s:.1f} s",
            )
        )
    import llmloop as ll

    notes += [
        f"{steps} tiny steps in a chain, each returning its input + 1; each tool in its own process on a fresh "
        "store; per step = the run's wall time over the steps (the steps themselves take microseconds), "
        "after a 1-step warm-up reported on its own.",
        "Prefect runs tasks in its flow's process and ZenML's local orchestrator runs steps in its process, so "
        "llmloop's inline executor is the like-for-like comparison; the local executor runs each step in "
        f"a worker subprocess (kept warm, started within the timed run) and is timed over {local_steps} steps.",
        "Whole process = interpreter start to exit (imports, store or server start, both runs, shutdown); "
        "CPU seconds include the servers and step processes the workload waited for; peak memory is the "
        "largest sum of VmHWM over the process tree, sampled every 0.2 s.",
        "A hit's own cost is the step's started_at..ended_at: pin inputs, build the key, find the cached "
        "step, check its outputs still exist, record a tracked run and the step row.",
        "The large input is keyed by the content hash stored at ingest: the hit does not read it.",
        f"Load average (1, 5, 15 min) at the start {load0} and at the end {tuple(os.getloadavg())}: the "
        "machine is shared, so the ratios, not the absolute figures, are the result.",
    ]
    raw["big_hit_ms"] = hit_ms
    raw["load_start_end"] = [load0, os.getloadavg()]
    return {
        "title": "Pipelines: orchestration overhead against Prefect and ZenML, and cache-hit cost",
        "ours": f"llmloop {ll.__version__}",
        "peer": " / ".join(versions) if versions else "no peer",
        "rows": rows,
        "notes": notes,
        "raw": raw,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--local-steps",
        type=int,
        default=None,
        help="steps on the local executor (default: --steps; 0: skip)",
    )
    parser.add_argument("--dataset-mb", type=int, default=100, help="size of the large input (0: skip)")
    parser.add_argument(
        "--peers", default="prefect,zenml", help="comma-separated, of: prefect, zenml ('' for none)"
    )
    args = parser.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    if unknown := [p for p in peers if p not in PEERS]:
        parser.error(f"--peers: unknown {unknown}; known: {sorted(PEERS)}")
    local = args.steps if args.local_steps is None else args.local_steps
    return measure(args.steps, local, args.dataset_mb, peers)


if __name__ == "__main__":  # run.py writes results/pipelines.{json,md}; standalone, write them here
    _, md = _report.write("pipelines", main())
    print(md.read_text())
