"""Hyper-parameter sweeps: Optuna TPE + median pruning over training-config keys, trials as child runs.

    run_sweep   get or create the sweep (its study lives in the llmloop database, so running the
                same sweep again resumes it), start a parent run, run the missing trials — in this
                process, in ``parallel`` local worker processes, or on Ray Tune with OptunaSearch —
                then summarise: best trial, a parallel-coordinates + importance plot, optional promotion.
    run_trial   one trial = one ``train`` call (a child run) with a pruning callback.

Local processes and Ray share the study and its distributions, so a sweep begun locally can be
resumed on Ray and the other way round. The scheduler is Optuna's or Ray's, never our own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from llmloop.context import Context
from llmloop.errors import Conflict, InvalidInput, LlmloopError, NotFound, Unavailable
from llmloop.security import audit
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunBatch
from llmloop.services.train.recorder import RunRecorder
from llmloop.services.train.service import TrainOptions, train
from llmloop.services.train.sweep_config import Sweep
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.training import SweepRow

_CONFIG = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


class TrialSummary(BaseModel):
    model_config = _CONFIG

    number: int
    state: str = Field(description="COMPLETE, PRUNED, FAIL or RUNNING (Optuna's trial states).")
    value: float | None = None
    params: dict[str, Any]
    run_id: str | None = None


class SweepResult(BaseModel):
    model_config = _CONFIG

    sweep_id: str
    name: str
    project: str
    run_id: str = Field(description="This invocation's parent run; trials are its child runs.")
    executor: str
    trials: list[TrialSummary]
    best: TrialSummary | None = None
    ran_now: int = Field(
        description="Trials run by this invocation (a resumed sweep runs only the missing ones)."
    )
    plot: str | None = Field(None, description="Artifact path of the parallel-coordinates / importance PNG.")
    model_version: str | None = None


@dataclass(frozen=True)
class TrialOutcome:
    run_id: str
    value: float
    pruned: bool


# ----------------------------------------------------------------------------- one trial


def run_trial(
    ctx: Context,
    sweep: Sweep,
    params: dict[str, Any],
    *,
    label: str,
    parent_run_id: str,
    report: Callable[[float, int], bool],
    threads: int | None = None,
) -> TrialOutcome:
    """Train with ``params`` applied; ``report(value, step)`` returns True when the trial should stop."""
    from llmloop.services.train.callbacks import ReportCallback

    metric = sweep.config.objective.metric
    cfg = sweep.trial_config(params, trial=label, threads=threads)
    reporter = ReportCallback(metric, report)
    tags = {
        "sweep": sweep.config.name,
        "trial": label,
        "trial_params": _params_key(params),
    }
    result = train(
        ctx, config=cfg, options=TrainOptions(callbacks=[reporter], parent_run_id=parent_run_id, tags=tags)
    )
    value = result.metrics.get(metric)
    state = "pruned" if reporter.pruned else "complete"
    tracking.log_batch(ctx, run_id=result.run_id, batch=RunBatch(tags={"trial_state": state}))
    if value is None:
        raise InvalidInput(
            f"objective metric {metric!r} was never logged by trial {label}; it logged: {', '.join(sorted(result.metrics))}",
            details={"key": "objective.metric"},
        )
    return TrialOutcome(result.run_id, float(value), reporter.pruned)


def suggest(trial: Any, sweep: Sweep) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, space in sweep.config.space.items():
        if space.type == "categorical":
            out[key] = trial.suggest_categorical(key, space.choices)
        elif space.type == "int":
            out[key] = trial.suggest_int(
                key, int(space.low or 0), int(space.high or 0), step=int(space.step or 1), log=space.log
            )
        else:
            assert space.low is not None and space.high is not None
            out[key] = trial.suggest_float(
                key, space.low, space.high, log=space.log, step=None if space.log else space.step
            )
    return out


def optuna_objective(
    ctx: Context, sweep: Sweep, *, parent_run_id: str, threads: int | None
) -> Callable[[Any], float]:
    import optuna

    def objective(trial: Any) -> float:
        params = suggest(trial, sweep)

        def report(value: float, step: int) -> bool:
            trial.report(value, step)
            return bool(trial.should_prune())

        outcome = run_trial(
            ctx,
            sweep,
            params,
            label=str(trial.number),
            parent_run_id=parent_run_id,
            report=report,
            threads=threads,
        )
        trial.set_user_attr("run_id", outcome.run_id)
        if outcome.pruned:
            raise optuna.TrialPruned()
        return outcome.value

    return objective


# ----------------------------------------------------------------------------- the study


def study_for(ctx: Context, sweep_id: str, sweep: Sweep, *, worker: int = 0) -> Any:
    import optuna
    from optuna.pruners import MedianPruner, NopPruner
    from optuna.samplers import TPESampler

    from llmloop.services.train.study_store import study_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    p = sweep.config.pruner
    pruner = (
        MedianPruner(n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps)
        if p.enabled
        else NopPruner()
    )
    return optuna.create_study(
        study_name=sweep.config.name,
        storage=study_storage(ctx.db.url, sweep_id),
        sampler=TPESampler(seed=sweep.config.seed + worker),
        pruner=pruner,
        direction=sweep.config.objective.direction,
        load_if_exists=True,
    )


def get_or_create_sweep(ctx: Context, sweep: Sweep, *, project: str) -> str:
    """The sweep's id; an existing sweep of that name is resumed only if its space and objective match."""
    ctx.require("runs:write", project)
    wanted = sweep.config.spec_hash()
    with ctx.db.session() as s:
        pid = project_id(s, project, create=True)
        row = s.scalar(select(SweepRow).where(SweepRow.project_id == pid, SweepRow.name == sweep.config.name))
        if row is not None:
            if row.spec_hash != wanted:
                raise Conflict(
                    f"sweep {sweep.config.name!r} exists with another search space or objective; "
                    "give the new one another name",
                    details={"sweep": sweep.config.name},
                )
            row.spec = json.loads(
                sweep.model_dump_json()
            )  # overrides and trial counts may change between runs
            audit.record(s, ctx, "sweeps.resume", f"sweep:{sweep.config.name}", project=project)
            return row.id
        sweep_id = uuid.uuid4().hex
        s.add(
            SweepRow(
                id=sweep_id,
                project_id=pid,
                name=sweep.config.name,
                spec=json.loads(sweep.model_dump_json()),
                spec_hash=wanted,
                created_at=now(),
                created_by=ctx.actor.id,
            )
        )
        s.flush()
        audit.record(
            s, ctx, "sweeps.create", f"sweep:{sweep.config.name}", after={"id": sweep_id}, project=project
        )
        return sweep_id


def load_sweep_row(ctx: Context, sweep_id: str) -> Sweep:
    with ctx.db.session() as s:
        row = s.get(SweepRow, sweep_id)
        if row is None:
            raise NotFound(f"sweep {sweep_id!r} not found", details={"sweep_id": sweep_id})
        return Sweep.model_validate(row.spec)


def _close_orphans(study: Any) -> None:
    """Trials left RUNNING by a sweep that was killed are failed, so a resume can count and re-run them."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def _finished(study: Any) -> int:
    from optuna.trial import TrialState

    return len(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    )


# ----------------------------------------------------------------------------- executors


def default_threads(parallel: int) -> int | None:
    """CPU threads per trial: share the cores, since OpenMP threads beyond the free cores slow every step."""
    if parallel <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // parallel)


def run_local(ctx: Context, sweep_id: str, sweep: Sweep, *, remaining: int, parent_run_id: str) -> None:
    """In this process when ``parallel`` is 1; else one worker process per slot, all on the same study."""
    parallel = min(sweep.config.parallel, remaining)
    threads = default_threads(parallel)
    if parallel <= 1:
        study = study_for(ctx, sweep_id, sweep)
        study.optimize(
            optuna_objective(ctx, sweep, parent_run_id=parent_run_id, threads=threads),
            n_trials=remaining,
            catch=(LlmloopError,),
        )
        return
    shares = [remaining // parallel + (1 if i < remaining % parallel else 0) for i in range(parallel)]
    procs = []
    for worker, share in enumerate(shares):
        cmd = [
            sys.executable,
            "-m",
            "llmloop.services.train.sweep_worker",
            sweep_id,
            str(share),
            parent_run_id,
            str(worker),
        ]
        if threads is not None:
            cmd.append(str(threads))
        procs.append(subprocess.Popen(cmd, env=_worker_env(ctx)))
    codes = [p.wait() for p in procs]
    failed = [i for i, c in enumerate(codes) if c != 0]
    if failed:
        raise Unavailable(
            f"sweep worker process(es) {failed} exited with {[codes[i] for i in failed]}; finished trials are kept, "
            "run the sweep again to resume",
            details={"sweep_id": sweep_id},
        )


def _worker_env(ctx: Context) -> dict[str, str]:
    """The parent's environment plus the store it uses, so workers write to the same database."""
    env = dict(os.environ)
    env["LLMLOOP_HOME"] = str(ctx.settings.home)
    env["LLMLOOP_DATABASE_URL"] = ctx.db.url
    env["LLMLOOP_ARTIFACTS_URL"] = ctx.artifacts.url
    return env


def resolve_executor(requested: str | None, sweep: Sweep, ctx: Context) -> tuple[str, str | None]:
    """('local'|'ray', ray address): flag > sweep file > LLMLOOP_EXECUTOR; ``ray://host:port`` names a cluster."""
    setting = requested or sweep.config.executor or ctx.settings.executor or "local"
    if setting in ("local", "inline"):  # inline is a pipeline executor: trials still run locally
        return "local", None
    if setting == "ray":
        env = ctx.settings.executor
        return "ray", env if env.startswith("ray://") else None
    if setting.startswith("ray://"):
        return "ray", setting
    raise InvalidInput(
        f"unknown executor {setting!r}: use local, ray or ray://host:port", details={"key": "executor"}
    )


# ----------------------------------------------------------------------------- the sweep


def run_sweep(
    ctx: Context, *, sweep: Sweep, executor: str | None = None, promote: bool | None = None
) -> SweepResult:
    project = sweep.config.project or sweep.train_raw.get("project") or ctx.settings.default_project
    kind, address = resolve_executor(executor, sweep, ctx)
    sweep_id = get_or_create_sweep(ctx, sweep, project=project)
    study = study_for(ctx, sweep_id, sweep)
    _close_orphans(study)
    for point in sweep.config.start_with:
        study.enqueue_trial(point, skip_if_exists=True)
    remaining = max(0, sweep.config.trials - _finished(study))
    parent = RunRecorder.start(
        ctx,
        project=project,
        name=sweep.config.name,
        kind="sweep",
        params={
            "space": json.dumps(
                {k: v.model_dump(exclude_none=True) for k, v in sweep.config.space.items()}, sort_keys=True
            ),
            "objective": f"{sweep.config.objective.direction} {sweep.config.objective.metric}",
            "trials": sweep.config.trials,
            "parallel": sweep.config.parallel,
        },
        tags={"sweep": sweep.config.name, "sweep_id": sweep_id, "executor": kind},
    )
    try:
        if remaining:
            if kind == "ray":
                from llmloop.services.train.sweep_ray import run_ray

                run_ray(ctx, sweep_id, sweep, remaining=remaining, parent_run_id=parent.id, address=address)
            else:
                run_local(ctx, sweep_id, sweep, remaining=remaining, parent_run_id=parent.id)
        result = summarise(
            ctx, sweep_id, sweep, parent=parent, project=project, executor=kind, ran_now=remaining
        )
        if promote if promote is not None else sweep.config.promote_best:
            result = result.model_copy(update={"model_version": promote_best(ctx, result, sweep)})
    except BaseException:
        parent.end("failed")
        raise
    parent.end("finished")
    return result


def summarise(
    ctx: Context,
    sweep_id: str,
    sweep: Sweep,
    *,
    parent: RunRecorder,
    project: str,
    executor: str,
    ran_now: int,
) -> SweepResult:
    from llmloop.services.train.sweep_plot import plot_study

    study = study_for(ctx, sweep_id, sweep)
    runs_by_params = _trial_runs(ctx, sweep, project)
    trials = [
        TrialSummary(
            number=t.number,
            state=t.state.name,
            value=t.value if t.values else None,
            params=dict(t.params),
            run_id=t.user_attrs.get("run_id") or runs_by_params.get(_params_key(t.params)),
        )
        for t in study.get_trials(deepcopy=False)
    ]
    complete = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    best = None
    if complete:
        pick = min if sweep.config.objective.direction == "minimize" else max
        best = pick(complete, key=lambda t: t.value if t.value is not None else 0.0)
    folder = Path(ctx.settings.home) / "sweeps" / sweep_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trials.json").write_text(
        json.dumps([t.model_dump(mode="json") for t in trials], indent=2), encoding="utf-8"
    )
    parent.log_file(folder / "trials.json", "sweep/trials.json")
    plot_name = None
    if plot_study(study, folder / "sweep.png", metric=sweep.config.objective.metric):
        plot_name = parent.log_file(folder / "sweep.png", "sweep/sweep.png").path
    counts = {state: sum(1 for t in trials if t.state == state) for state in ("COMPLETE", "PRUNED", "FAIL")}
    metrics = {f"trials_{k.lower()}": float(v) for k, v in counts.items()}
    if best is not None and best.value is not None:
        metrics["best_value"] = best.value
        parent.set_tags({"best_trial": str(best.number), "best_run_id": best.run_id or ""})
    parent.log_metrics(metrics, step=len(trials))
    return SweepResult(
        sweep_id=sweep_id,
        name=sweep.config.name,
        project=project,
        run_id=parent.id,
        executor=executor,
        trials=trials,
        best=best,
        ran_now=ran_now,
        plot=plot_name,
    )


def _params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)[:2000]


def _trial_runs(ctx: Context, sweep: Sweep, project: str) -> dict[str, str]:
    """Trial runs of this sweep by their params: how Ray trials (whose Optuna trial the searcher owns) find their run."""
    from llmloop.services.tracking.schemas import RunSearch

    name = sweep.config.name.replace("'", "")
    page = tracking.search_runs(
        ctx, query=RunSearch(project=project, filter=f"tags.sweep = '{name}' and kind = 'train'", limit=10000)
    )
    return {r.tags["trial_params"]: r.id for r in page.items if "trial_params" in r.tags}


def promote_best(ctx: Context, result: SweepResult, sweep: Sweep) -> str:
    """Register the best trial's adapter (already stored with its run) as a model version."""
    from llmloop.services.train.model_source import resolve_model
    from llmloop.services.train.outputs import StoredOutput, register_model_version

    best = result.best
    if best is None or best.run_id is None:
        raise NotFound(
            f"sweep {result.name!r} has no completed trial to promote", details={"sweep": result.name}
        )
    run = tracking.get_run(ctx, run_id=best.run_id)
    prefix = "adapter" if any(a.path.startswith("adapter/") for a in run.artifacts) else "model"
    files = [a for a in run.artifacts if a.path.startswith(prefix + "/")]
    weights = next((a for a in files if a.path.endswith(".safetensors")), None)
    if weights is None:
        raise NotFound(f"trial run {best.run_id} stored no weights", details={"run_id": best.run_id})
    cfg = sweep.trial_config(best.params, trial=str(best.number))
    source = resolve_model(ctx, cfg.model.base, project=result.project, adapter=cfg.model.adapter)
    folder = Path(ctx.settings.home) / "sweeps" / result.sweep_id / f"best-{best.number}" / prefix
    for a in files:  # from the artifact store (hash-checked), not from a checkpoint folder that may be gone
        ctx.artifacts.get_file(a.sha256, folder / a.path.split("/", 1)[1])
    output = StoredOutput(folder, prefix, [a.path for a in files], weights.sha256)
    version = register_model_version(
        ctx,
        name=sweep.config.name,
        project=result.project,
        base=source,
        output=output,
        run_id=best.run_id,
        method=cfg.method,
        inputs=[],
        metadata={
            "method": cfg.method,
            "sweep": sweep.config.name,
            "trial": best.number,
            "params": best.params,
        },
    )
    if version is None:
        raise Unavailable(
            "promoting the best trial needs the models registry (llmloop.services.registry), which is not installed; "
            f"its adapter is stored with run {best.run_id}",
            details={"run_id": best.run_id},
        )
    tracking.log_batch(ctx, run_id=result.run_id, batch=RunBatch(tags={"model_version": version.ref}))
    return version.ref
