"""The llmloop side of the pipelines benchmark; runs in a process of its own, prints one JSON object.

    python pipelines_llmloop.py '{"steps": 100, "executor": "inline"}'

A chain of ``steps`` tiny Python steps (``module:function`` steps, each returning its input
+ 1) in one pipeline on a fresh embedded store (``LLMLOOP_HOME``, set by the benchmark):
the first run is all misses (each step a tracked run, a content key, its outputs and lineage
written), the second all hits. A 1-step warm-up pipeline opens the store (schema creation)
before the timed runs, as the peers' warm-ups start their server or store, and is reported on
its own. ``executor`` is ``inline`` (steps in this process, as Prefect's and ZenML's local
defaults run them) or ``local`` (steps in warm worker subprocesses, started once per run).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

STEPS = """
def tiny(x):
    return {"value": x + 1}
"""


def chain(n: int, start: int, base_dir: Path) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"name": "s0", "kind": "bench_chain:tiny", "inputs": {"x": start}}]
    steps += [
        {"name": f"s{i}", "kind": "bench_chain:tiny", "inputs": {"x": f"steps.s{i - 1}.value"}}
        for i in range(1, n)
    ]
    return {"name": f"chain{n}-from{start}", "steps": steps, "base_dir": str(base_dir)}


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    work = Path.cwd()
    (work / "bench_chain.py").write_text(STEPS)
    sys.path.insert(0, str(work))
    t_import = time.perf_counter()
    import llmloop as ll

    import_s = time.perf_counter() - t_import
    executor, n = cfg["executor"], cfg["steps"]

    step_ms: list[float] = []

    def run(defn: dict[str, Any]) -> tuple[float, int]:
        t0 = time.perf_counter()
        result = ll.pipelines.run(defn, executor=executor)
        wall = time.perf_counter() - t0
        if result.status != "finished":
            raise SystemExit(
                f"llmloop run {result.id}: {[(s.name, s.error) for s in result.steps if s.error]}"
            )
        last, want = result.steps[-1], defn["steps"][0]["inputs"]["x"] + len(defn["steps"])
        if last.outputs.get("value") != want:
            raise SystemExit(f"llmloop run {result.id}: {last.name} returned {last.outputs}, expected {want}")
        step_ms[:] = [((s.ended_at or 0) - (s.started_at or 0)) * 1000 for s in result.steps]
        return wall, sum(s.cache == "hit" for s in result.steps)

    out: dict[str, Any] = {"version": ll.__version__, "import_s": import_s, "executor": executor}
    out["warmup_s"], _ = run(chain(1, -10, work))  # opens the store; its own input
    for label in ("first", "cached"):
        out[f"{label}_s"], out[f"{label}_hits"] = run(chain(n, 0, work))
        out[f"{label}_step_ms_median"] = statistics.median(step_ms)  # the step's own started..ended
    out["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
