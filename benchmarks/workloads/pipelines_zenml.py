"""The ZenML side of the pipelines benchmark; runs in ZenML's own venv, prints one JSON object.

    python pipelines_zenml.py '{"steps": 100}'

The same workload as ``pipelines_llmloop.py``: a pipeline of ``steps`` tiny steps in a chain,
each returning its input + 1, on ZenML's default local stack (local orchestrator, steps run
in this process one after another, a local artifact store, a SQLite store in
``ZENML_CONFIG_PATH``, a fresh temporary folder the benchmark sets; no server). ZenML caches
by default, so the first run is all misses and the second all hits. A 1-step warm-up pipeline
pays the store's creation (migrations, default stack) before the timed runs, and is reported
on its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

_T_IMPORT = time.perf_counter()
import zenml  # noqa: E402  (timed: ZenML resolves steps by module and name, so they live at module level)
from zenml import pipeline, step  # noqa: E402
from zenml.enums import ExecutionStatus  # noqa: E402

IMPORT_S = time.perf_counter() - _T_IMPORT


@step
def tiny(x: int) -> int:
    return x + 1


@pipeline
def chain(n: int, start: int) -> None:
    x = tiny(start)
    for _ in range(n - 1):
        x = tiny(x)


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])

    def run(n: int, start: int) -> tuple[float, int, int]:
        t0 = time.perf_counter()
        result = chain(n, start)
        wall = time.perf_counter() - t0
        if result is None:  # the run is also readable from the client
            from zenml.client import Client

            result = Client().get_pipeline("chain").last_run
        steps = list(result.steps.values())
        hits = sum(s.status == ExecutionStatus.CACHED for s in steps)
        done = sum(s.status in (ExecutionStatus.COMPLETED, ExecutionStatus.CACHED) for s in steps)
        if done != n:
            raise SystemExit(f"zenml run {result.id}: {done} of {n} steps finished")
        return wall, hits, len(steps)

    out: dict[str, Any] = {"version": zenml.__version__, "import_s": IMPORT_S}
    out["warmup_s"], _, _ = run(1, -10)  # creates the store and default stack; its own input
    n = cfg["steps"]
    for label in ("first", "cached"):
        out[f"{label}_s"], out[f"{label}_hits"], _ = run(n, 0)
    out["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
