"""The llmloop side of the tracking benchmark; prints one JSON object.

    python tracking_llmloop.py '{"mode": "local", "single_n": 50000, …}'

Local or remote is chosen by the environment (``LLMLOOP_HOME`` / ``LLMLOOP_SERVER_URL``),
as for any user. It mirrors ``tracking_mlflow.py`` step for step (same names, values and
random seed) and checks that everything it logged was stored.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import sys
import time
from typing import Any


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    import llmloop as ll
    from llmloop.services.tracking.schemas import RunBatch

    tag = cfg["mode"]
    out: dict[str, Any] = {"version": ll.__version__, "module": ll.__file__}

    # single log_metric calls: buffered; the rate of the calls, then of the calls plus the
    # final flush, and a check that every value is in the store once the run has ended
    n = cfg["single_n"]
    with ll.start_run(project=f"single-{tag}") as run:
        t0 = time.perf_counter()
        for i in range(n):
            run.log_metric("loss", 1.0 / (i + 1), step=i)
        calls = time.perf_counter() - t0
    stored_all = time.perf_counter() - t0
    hist = ll.get_run(run.id).metric_history("loss")
    exact = [(p.step, p.value) for p in hist] == [(i, 1.0 / (i + 1)) for i in range(n)]
    out["single"] = {
        "n": n,
        "seconds": calls,
        "rate": n / calls,
        "seconds_all_stored": stored_all,
        "rate_all_stored": n / stored_all,
        "stored": len(hist),
        "exact": exact,
    }

    # batched values: synchronous writes of ``batch_size`` points through the client
    client = ll.get_client()
    size, batches = cfg["batch_size"], cfg["batches"]
    with ll.start_run(project=f"batch-{tag}") as run:
        t0 = time.perf_counter()
        for b in range(batches):
            ts = time.time()
            client.runs.log_batch(
                run.id, RunBatch(points=[("m", float(j), b * size + j, ts) for j in range(size)])
            )
        dt = time.perf_counter() - t0
    stored = len(ll.get_run(run.id).metric_history("m"))
    out["batch"] = {"n": size * batches, "seconds": dt, "rate": size * batches / dt, "stored": stored}

    # runs created with 5 params and 5 metrics each
    rng = random.Random(42)
    n = cfg["runs_n"]
    t0 = time.perf_counter()
    for i in range(n):
        with ll.start_run(project=cfg["runs_project"], name=f"r{i}") as run:
            run.log_params({f"p{k}": f"{k}-{i}" for k in range(5)})
            run.log_metrics({f"m{k}": rng.random() for k in range(5)}, step=0)
    dt = time.perf_counter() - t0
    out["runs"] = {"n": n, "seconds": dt, "rate": n / dt}

    # search the 1,000-run project on a metric: filter, order; every match, then the first 100
    if cfg.get("search_project"):
        project = cfg["search_project"]
        total = len(ll.search_runs(project=project, limit=5000))
        for name, limit in (("search", 1000), ("search_top100", 100)):
            times, cpu, found = [], [], 0
            for i in range(cfg["search_repeat"] + 1):
                t0, c0 = time.perf_counter(), time.process_time()
                res = ll.search_runs(
                    project=project, filter="metrics.m0 > 0.5", order_by=["metrics.m0 DESC"], limit=limit
                )
                if i:  # the first call warms caches
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                found = len(res)
            out[name] = {
                "ms": statistics.median(times) * 1000,
                "cpu_ms": statistics.median(cpu) * 1000,
                "times_ms": [t * 1000 for t in times],
                "found": found,
                "runs": total,
            }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
