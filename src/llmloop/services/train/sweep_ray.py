"""Sweeps on Ray: Ray Tune runs the trials, OptunaSearch (TPE) suggests them, a median rule stops laggards.

The Optuna study is the same one local sweeps use (stored in the llmloop database through
``DatabaseJournal``, which pickles as URL + id), so Ray trials and local trials add up. Each trial
is a Ray worker calling ``run_trial`` against the same llmloop store (the store's URLs travel in the
job's ``runtime_env``). ``LLMLOOP_EXECUTOR=ray://host:port`` connects to a cluster; plain ``ray``
starts a local one. Only ``tune.report`` crosses the boundary, once per evaluation (Ray reports
cost ~ms in Tune, ~1.7 s in Ray Train: STACK trap 5).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import Unavailable
from llmloop.services.train.sweep import _worker_env, default_threads
from llmloop.services.train.sweep_config import Sweep

RUNTIME_ENV_KEYS = ("LLMLOOP_", "PYTHONPATH", "HF_", "OMP_NUM_THREADS", "TOKENIZERS_PARALLELISM")


def run_ray(
    ctx: Context, sweep_id: str, sweep: Sweep, *, remaining: int, parent_run_id: str, address: str | None
) -> None:
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import MedianStoppingRule
        from ray.tune.search.optuna import OptunaSearch
    except ImportError as e:
        raise Unavailable(
            "--executor ray needs Ray Tune: pip install 'llmloop[ray]'", details={"key": "executor"}
        ) from e
    from optuna.samplers import TPESampler

    from llmloop.services.train.study_store import study_storage

    env = {k: v for k, v in _worker_env(ctx).items() if k.startswith(RUNTIME_ENV_KEYS)}
    if env.get("PYTHONPATH"):  # Ray workers do not start in this directory
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p
        )
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            runtime_env={"env_vars": env},
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        objective = sweep.config.objective
        mode = "min" if objective.direction == "minimize" else "max"
        search = OptunaSearch(
            space={k: v.distribution() for k, v in sweep.config.space.items()},
            metric=objective.metric,
            mode=mode,
            sampler=TPESampler(seed=sweep.config.seed),
            study_name=sweep.config.name,
            storage=study_storage(ctx.db.url, sweep_id),
        )
        scheduler = None
        if sweep.config.pruner.enabled:
            scheduler = MedianStoppingRule(
                time_attr="training_iteration",
                metric=objective.metric,
                mode=mode,
                grace_period=max(1, sweep.config.pruner.n_warmup_steps),
                min_samples_required=max(1, sweep.config.pruner.n_startup_trials),
            )
        threads = default_threads(sweep.config.parallel) or 1
        trainable = tune.with_resources(
            tune.with_parameters(
                _ray_trial, sweep_json=sweep.model_dump_json(), parent_run_id=parent_run_id, threads=threads
            ),
            {"cpu": threads},
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=search,
                scheduler=scheduler,
                num_samples=remaining,
                max_concurrent_trials=sweep.config.parallel,
            ),
            run_config=tune.RunConfig(
                name=f"{sweep.config.name}-{parent_run_id[:8]}",
                storage_path=str(Path(ctx.settings.home) / "ray"),
                verbose=0,
            ),
        )
        grid = tuner.fit()
        if grid.errors and len(grid.errors) == len(grid):
            first = str(grid.errors[0]).strip().splitlines()[-1][:500]
            raise Unavailable(f"every Ray trial failed; the first: {first}", details={"sweep_id": sweep_id})
    finally:
        if started_here:
            ray.shutdown()


def _ray_trial(params: dict[str, Any], *, sweep_json: str, parent_run_id: str, threads: int) -> None:
    """Runs inside a Ray worker: one llmloop child run, reporting the objective at each evaluation."""
    from ray import tune

    from llmloop.context import local_context
    from llmloop.services.train.sweep import run_trial

    sweep = Sweep.model_validate_json(sweep_json)
    metric = sweep.config.objective.metric
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))

    def report(value: float, step: int) -> bool:
        try:
            tune.report({metric: value, "step": step})
        except SystemExit:  # Tune decided to stop this trial (median rule): end the run cleanly
            return True
        return False

    label = str(tune.get_context().get_trial_id() or "ray").rsplit("_", 1)[-1]
    outcome = run_trial(
        local_context(),
        sweep,
        dict(params),
        label=label,
        parent_run_id=parent_run_id,
        report=report,
        threads=threads,
    )
    tune.report({metric: outcome.value, "run_id": outcome.run_id, "pruned": outcome.pruned})
