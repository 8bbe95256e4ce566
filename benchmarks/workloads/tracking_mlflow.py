"""The MLflow side of the tracking benchmark; runs inside the bench venv and prints one JSON object.

    python tracking_mlflow.py '{"tracking_uri": "sqlite:///…", "single_n": 300, …}'

It mirrors ``tracking_llmloop.py`` step for step (same names, same values, same random
seed) so the two searches return the same runs. It uses only MLflow's public API, each
call the idiomatic one a user would write, with MLflow's defaults (synchronous logging).
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
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(cfg["tracking_uri"])
    client = MlflowClient()
    tag = cfg["mode"]
    out: dict[str, Any] = {"version": mlflow.__version__}

    # single log_metric calls: synchronous, one write (one HTTP request) per call
    exp = mlflow.set_experiment(f"single-{tag}")
    n = cfg["single_n"]
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        dt = time.perf_counter() - t0
    stored = len(client.get_metric_history(run.info.run_id, "loss"))
    out["single"] = {"n": n, "seconds": dt, "rate": n / dt, "stored": stored}

    # batched values through log_batch (MLflow caps a batch at 1,000 metrics)
    exp = mlflow.set_experiment(f"batch-{tag}")
    size, batches = cfg["batch_size"], cfg["batches"]
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        t0 = time.perf_counter()
        for b in range(batches):
            ts = int(time.time() * 1000)
            metrics = [Metric("m", float(j), ts, b * size + j) for j in range(size)]
            client.log_batch(run.info.run_id, metrics=metrics)
        dt = time.perf_counter() - t0
    stored = len(client.get_metric_history(run.info.run_id, "m"))
    out["batch"] = {"n": size * batches, "seconds": dt, "rate": size * batches / dt, "stored": stored}

    # runs created with 5 params and 5 metrics each
    exp = mlflow.set_experiment(cfg["runs_project"])
    rng = random.Random(42)
    n = cfg["runs_n"]
    t0 = time.perf_counter()
    for i in range(n):
        with mlflow.start_run(experiment_id=exp.experiment_id, run_name=f"r{i}"):
            mlflow.log_params({f"p{k}": f"{k}-{i}" for k in range(5)})
            mlflow.log_metrics({f"m{k}": rng.random() for k in range(5)}, step=0)
    dt = time.perf_counter() - t0
    out["runs"] = {"n": n, "seconds": dt, "rate": n / dt}
    # top the searched experiment up to ``seed_to`` runs, untimed, with two calls per run (left
    # "running": the search does not look at status); same random draws in the same order, so
    # both tools hold the same values
    for i in range(n, cfg.get("seed_to", n)):
        run = client.create_run(exp.experiment_id, run_name=f"r{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(f"m{k}", rng.random(), int(time.time() * 1000), 0) for k in range(5)],
            params=[Param(f"p{k}", f"{k}-{i}") for k in range(5)],
        )

    # search the 1,000-run experiment on a metric: filter, order; every match, then the first 100
    if cfg.get("search_project"):
        search = mlflow.get_experiment_by_name(cfg["search_project"])
        total = len(client.search_runs([search.experiment_id], max_results=5000))
        for name, limit in (("search", 1000), ("search_top100", 100)):
            times, found = [], 0
            for i in range(cfg["search_repeat"] + 1):
                t0 = time.perf_counter()
                res = client.search_runs(
                    [search.experiment_id],
                    filter_string="metrics.m0 > 0.5",
                    order_by=["metrics.m0 DESC"],
                    max_results=limit,
                )
                if i:  # the first call warms caches
                    times.append(time.perf_counter() - t0)
                found = len(res)
            out[name] = {
                "ms": statistics.median(times) * 1000,
                "times_ms": [t * 1000 for t in times],
                "found": found,
                "runs": total,
            }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
