"""Pipelines: orchestration overhead of 100 tiny steps, and what a cache hit costs (with a large input).

Measured on a fresh embedded store (SQLite + a local artifact folder) in a temporary folder:

- 100 tiny Python steps in a chain (each returns its input + 1) on the ``inline`` executor, first
  run (every step a miss: a tracked run, a cache key, the outputs and lineage written) and again
  (every step a hit); the overhead per step is the wall time over 100, the steps themselves
  taking microseconds;
- the same for 5 steps on the ``local`` executor (a Python process per step attempt);
- a cache hit on a step whose input is a ~100 MB dataset version (``--dataset-mb``): the key
  uses the digest the datasets service stored at ingest, so the hit must cost what a hit on a
  tiny input costs (target: at most 10 ms per step), not a re-read of 100 MB.

Peers (Prefect, ZenML) are not measured yet: this run publishes our own figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _report
from _report import Row

STEPS = """
def tiny(x):
    return {"value": x + 1}


def rows_of(data):
    return {"value": data}
"""


def _chain(n: int, module: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"name": "s0", "kind": f"{module}:tiny", "inputs": {"x": 0}}]
    steps += [
        {"name": f"s{i}", "kind": f"{module}:tiny", "inputs": {"x": f"steps.s{i - 1}.value"}}
        for i in range(1, n)
    ]
    return {"name": f"chain{n}", "steps": steps}


def _timed_run(ll: Any, defn: dict[str, Any], executor: str, cache: bool = True) -> tuple[float, Any]:
    t0 = time.perf_counter()
    run = ll.pipelines.run(defn, executor=executor, cache=cache)
    wall = time.perf_counter() - t0
    assert run.status == "finished", [(s.name, s.error) for s in run.steps if s.error]
    return wall, run


def _big_rows(path: Path, mb: int) -> int:
    line = {"prompt": "Where should I travel in spring? " * 4, "completion": "Kyoto, for the blossoms. " * 12}
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < mb * 1_000_000:
            fh.write(json.dumps({**line, "prompt": f"{n} {line['prompt']}"}) + "\n")
            n += 1
    return n


def measure(steps: int, local_steps: int, dataset_mb: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-pipelines-"))
    os.environ["LLMLOOP_HOME"] = str(work / "home")
    for key in ("LLMLOOP_DATABASE_URL", "LLMLOOP_ARTIFACTS_URL", "LLMLOOP_SERVER_URL"):
        os.environ.pop(key, None)
    (work / "bench_steps.py").write_text(STEPS)
    import sys

    sys.path.insert(0, str(work))
    import llmloop as ll
    from llmloop.config import reset_settings

    reset_settings()
    defn = {**_chain(steps, "bench_steps"), "base_dir": str(work)}
    miss_s, _ = _timed_run(ll, defn, "inline")
    hit_s, hits = _timed_run(ll, defn, "inline")
    assert {s.cache for s in hits.steps} == {"hit"}
    local = {**_chain(local_steps, "bench_steps"), "name": "local-chain", "base_dir": str(work)}
    local_miss_s, _ = _timed_run(ll, local, "local", cache=False)  # its steps' keys are the chain's

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
    _timed_run(ll, big, "inline")
    hit_ms = []
    for _ in range(5):
        _, run = _timed_run(ll, big, "inline")
        step = run.step("use")
        assert step.cache == "hit"
        hit_ms.append(((step.ended_at or 0) - (step.started_at or 0)) * 1000)
    tiny_hit_ms = statistics.median(((s.ended_at or 0) - (s.started_at or 0)) * 1000 for s in hits.steps)
    return {
        "title": "Pipelines: orchestration overhead and cache-hit cost",
        "ours": f"llmloop {ll.__version__}",
        "peer": "none yet (Prefect 3, ZenML: out of scope for this run)",
        "rows": [
            Row(
                f"{steps} tiny steps, inline executor, all misses",
                "s",
                round(miss_s, 2),
                higher_is_better=False,
            ),
            Row(
                f"{steps} tiny steps, inline executor, all hits", "s", round(hit_s, 2), higher_is_better=False
            ),
            Row(
                "overhead per step, miss (inline)",
                "ms",
                round(miss_s / steps * 1000, 1),
                higher_is_better=False,
            ),
            Row(
                "overhead per step, hit (inline)",
                "ms",
                round(hit_s / steps * 1000, 1),
                higher_is_better=False,
            ),
            Row(
                "cache hit per step, tiny input (median)",
                "ms",
                round(tiny_hit_ms, 2),
                higher_is_better=False,
                target_max=10.0,
            ),
            Row(
                f"cache hit, {dataset_mb} MB dataset input (median of 5)",
                "ms",
                round(statistics.median(hit_ms), 2),
                higher_is_better=False,
                target_max=10.0,
                note=f"{rows:,} rows; ingest took {ingest_s:.1f} s",
            ),
            Row(
                f"overhead per step, local executor ({local_steps} steps)",
                "s",
                round(local_miss_s / local_steps, 2),
                higher_is_better=False,
                note="a Python process per step attempt",
            ),
        ],
        "notes": [
            "A hit's cost is the step's started_at..ended_at: pin inputs, build the key, find the cached "
            "step, check its outputs still exist, record a tracked run and the step row.",
            "The 100 MB input is keyed by the content hash stored at ingest: the hit does not read it.",
        ],
        "raw": {"big_hit_ms": hit_ms, "load": list(os.getloadavg())},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--local-steps", type=int, default=5)
    parser.add_argument("--dataset-mb", type=int, default=100)
    args = parser.parse_args(argv)
    return measure(args.steps, args.local_steps, args.dataset_mb)


if __name__ == "__main__":  # run.py writes results/pipelines.{json,md}; standalone, write them here
    out = main()
    _report.write("pipelines", out)
    print(_report.markdown("pipelines", out))
