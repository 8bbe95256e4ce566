"""The Prefect 3 side of the pipelines benchmark; runs in Prefect's own venv, prints one JSON object.

    python pipelines_prefect.py '{"steps": 100}'

The same workload as ``pipelines_llmloop.py``: a chain of ``steps`` tiny tasks, each returning
its input + 1, inside one flow, with Prefect's defaults except what caching needs: the task's
cache policy is its inputs and source (Prefect 3's default also keys on the flow run id, so a
second flow run would never hit) and its results are persisted, so the first run is all
misses that store their results and the second all hits. No cloud: ``PREFECT_API_URL`` is
unset, so Prefect starts its own temporary local server on first use (with a SQLite database
in ``PREFECT_HOME``, a fresh temporary folder the benchmark sets). A 1-task warm-up flow pays
that server start before the timed runs, and is reported on its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    t_import = time.perf_counter()
    import prefect
    from prefect import flow, task
    from prefect.cache_policies import INPUTS, TASK_SOURCE

    import_s = time.perf_counter() - t_import

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def tiny(x: int) -> int:
        return x + 1

    @flow
    def chain(n: int, start: int) -> tuple[int, int]:
        x, hits = start, 0
        for _ in range(n):
            state = tiny(x, return_state=True)
            hits += state.name == "Cached"
            x = state.result()
        return x, hits

    out: dict[str, Any] = {"version": prefect.__version__, "import_s": import_s}
    t0 = time.perf_counter()
    chain(1, -10)  # starts the temporary server; its own input, so the timed chain still misses
    out["warmup_s"] = time.perf_counter() - t0
    n = cfg["steps"]
    for label in ("first", "cached"):
        t0 = time.perf_counter()
        value, hits = chain(n, 0)
        out[f"{label}_s"] = time.perf_counter() - t0
        out[f"{label}_hits"] = hits
        if value != n:
            raise SystemExit(f"prefect chain returned {value}, expected {n}")
    out["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
