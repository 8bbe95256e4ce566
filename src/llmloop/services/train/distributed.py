"""Data-parallel training on Ray Train's ``TorchTrainer`` (the ``distributed`` config section).

    driver   (``train``) prepares, starts the llmloop run and records its inputs, then starts N Ray
             Train workers and waits; it ends the run and reads the result back from the store
    workers  each sets up the store the driver uses, resolves the base model and tokenizer itself
             (a cluster node has none of the driver's files), and runs the same SFT/DPO ``fit`` as a
             single process: Ray Train has set up torch.distributed (gloo on CPU, nccl on GPUs), so
             the HF Trainer wraps the model in DDP and gives each rank its shard of the rows
    rank 0   alone reports metrics, stores the adapter, registers the model version and writes
             ``result.json``, all through the llmloop store (the database and the artifact store,
             S3 at scale), never only through Ray's object store

Nothing crosses ``ray.train.report``: each report is a barrier that costs ~1.7 s on this machine
(STACK trap 5), and Ray Train v2 keeps reported metrics only with checkpoints anyway. Ray is
joined when it is already up (a pipeline step on the Ray executor, a test's instance), else
started locally, or joined at ``LLMLOOP_EXECUTOR=ray://host:port`` as sweeps do.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError, Unavailable
from llmloop.services.train.config import TrainConfig
from llmloop.services.train.recorder import RunRecorder
from llmloop.services.train.schemas import TrainResult

RESULT_ARTIFACT = "result.json"
# What a worker needs from the driver's environment: the store, import path, caches, thread caps.
ENV_KEYS = ("LLMLOOP_", "PYTHONPATH", "HF_", "OMP_NUM_THREADS", "TOKENIZERS_PARALLELISM")


def require_distributed(cfg: TrainConfig, opts: Any) -> None:
    """Refuse, naming the key, what cannot run data-parallel: no Ray Train, or in-process callbacks."""
    try:
        import ray.train.torch  # noqa: F401
    except ImportError as e:
        raise Unavailable(
            "distributed.workers: data-parallel training needs Ray Train: pip install 'llmloop[ray]'",
            details={"key": "distributed.workers"},
        ) from e
    if opts.callbacks:
        raise InvalidInput(
            "distributed: Trainer callbacks run in this process, but with distributed.workers the "
            "Trainer runs in Ray workers; drop the callbacks or the distributed section",
            details={"key": "distributed"},
        )


def run_distributed(
    ctx: Context,
    prepared: Any,
    recorder: RunRecorder,
    *,
    train_rows: list[dict[str, Any]],
    folder: Path,
    finish: Any,
) -> TrainResult:
    """Train on ``distributed.workers`` Ray Train workers; the result comes back through the store."""
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    from llmloop.services.tracking import service as tracking

    cfg: TrainConfig = prepared.cfg
    dist = cfg.distributed
    assert dist is not None
    env = worker_env(ctx)
    recorder.set_tags(
        {"distributed.workers": str(dist.workers), "distributed.backend": dist.resolved_backend}
    )
    recorder.flush()  # the workers write to the same run: what the driver holds goes first
    payload = {
        "config": cfg,  # the object, not JSON: re-validating would see every default as set
        "project": prepared.project,
        "run_id": recorder.id,
        "env": env,
        "train_rows": train_rows,
        "eval_rows": prepared.eval_rows,
        "plan": prepared.plan.model_dump_json(),
        "folder": str(folder),
        "version_inputs": finish.version_inputs,
        "dataset_version": finish.dataset_version,
        "resume": (
            None
            if finish.resume is None
            else [finish.resume.run_id, str(finish.resume.checkpoint_dir), str(finish.resume.checkpoint)]
        ),
    }
    resources: dict[str, float] = {"CPU": dist.cpus_per_worker}
    if dist.gpus_per_worker:
        resources["GPU"] = dist.gpus_per_worker
    with ray_session(ctx, env):
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config=payload,
            torch_config=TorchConfig(backend=dist.resolved_backend),
            scaling_config=ray.train.ScalingConfig(
                num_workers=dist.workers, use_gpu=dist.gpus_per_worker > 0, resources_per_worker=resources
            ),
            run_config=ray.train.RunConfig(
                name=f"{cfg.name}-{recorder.id[:8]}",
                storage_path=str(Path(ctx.settings.home) / "ray"),
                failure_config=ray.train.FailureConfig(max_failures=0),  # retries are a pipeline's
            ),
        )
        try:
            trainer.fit()
        except ray.train.TrainingFailedError as e:
            raise _worker_error(e) from e
    run = tracking.get_run(ctx, run_id=recorder.id)
    saved = next((a for a in run.artifacts if a.path == RESULT_ARTIFACT), None)
    if saved is None:
        raise Unavailable(
            f"distributed training ended but rank 0 wrote no {RESULT_ARTIFACT} to run {recorder.id}",
            details={"run_id": recorder.id},
        )
    return TrainResult.model_validate_json(ctx.artifacts.read_bytes(saved.sha256))


def worker_env(ctx: Context) -> dict[str, str]:
    """The driver's store settings and import path, absolute: Ray workers start elsewhere."""
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_KEYS)}
    env["LLMLOOP_HOME"] = str(ctx.settings.home)
    env["LLMLOOP_DATABASE_URL"] = ctx.db.url
    env["LLMLOOP_ARTIFACTS_URL"] = ctx.artifacts.url
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p
        )
    return env


@contextmanager
def ray_session(ctx: Context, env: dict[str, str]) -> Iterator[None]:
    """Join the Ray that is up, or start one (local, or ``ray://`` from LLMLOOP_EXECUTOR) for this training."""
    import ray

    if ray.is_initialized():
        yield
        return
    executor = ctx.settings.executor or ""
    ray.init(
        address=executor if executor.startswith("ray://") else None,
        runtime_env={"env_vars": env},
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


def _worker_error(e: BaseException) -> BaseException:
    """The workers' own error (rank 0's first) when it is one of ours; Ray's wrapper otherwise."""
    failures = getattr(e, "worker_failures", None) or {}
    for _rank, err in sorted(failures.items()):
        if isinstance(err, LlmloopError):
            return err
        cause = getattr(err, "cause", None) or err.__cause__
        if isinstance(cause, LlmloopError):
            return cause
    if failures:
        rank, err = sorted(failures.items())[0]
        text = str(err).strip().splitlines()[-1][:500] if str(err).strip() else type(err).__name__
        return Unavailable(
            f"distributed training failed on worker {rank}: {text}",
            details={"rank": rank, "error": str(err)[-4000:]},  # Ray's text carries the worker's traceback
        )
    return e


# ----------------------------------------------------------------------------- on each worker


def _worker_loop(payload: dict[str, Any]) -> None:
    """One Ray Train worker: the same fit as a single process; rank 0 also finishes the run."""
    import ray.train
    import torch.distributed as torch_dist

    from llmloop.config import reset_settings
    from llmloop.context import local_context
    from llmloop.services.tracking import service as tracking
    from llmloop.services.train.service import Finish, ResumePoint, TrainOptions, finish_run, fit
    from llmloop.services.train.trainers import library_noise_muted

    os.environ.update(payload["env"])
    reset_settings()
    ctx = local_context()
    cfg: TrainConfig = payload["config"]
    train_ctx = ray.train.get_context()
    rank, world = train_ctx.get_world_rank(), train_ctx.get_world_size()
    resume = None
    if payload["resume"] is not None:
        run_id, folder_text, checkpoint = payload["resume"]
        resume = ResumePoint(run_id, Path(folder_text), Path(checkpoint))
    with library_noise_muted():
        prepared = _worker_prepared(ctx, cfg, payload)
        recorder = RunRecorder(ctx, tracking.get_run(ctx, run_id=payload["run_id"])) if rank == 0 else None
        folder = Path(payload["folder"])
        fitted = fit(
            prepared, recorder, TrainOptions(resume=resume), train_rows=payload["train_rows"], folder=folder
        )
    # every rank says who it is, so the run records that all of them trained (not just rank 0)
    me = {
        "rank": rank,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "batches_per_epoch": len(fitted.trainer.get_train_dataloader()),
    }
    ranks: list[Any] = [None] * world
    torch_dist.all_gather_object(ranks, me)
    if recorder is None:
        return
    recorder.set_tags(
        {
            "distributed.world_size": str(torch_dist.get_world_size()),
            "distributed.ranks": ",".join(f"{r['rank']}:{r['pid']}@{r['host']}" for r in ranks),
        }
    )
    recorder.log_metrics(
        {
            "world_size": float(world),
            "batches_per_epoch_per_rank": float(me["batches_per_epoch"]),
            "train_s": fitted.train_s,  # the epochs on rank 0, without Ray's start or model loading
        },
        step=fitted.trainer.state.global_step,
    )
    finish = Finish(
        version_inputs=[(str(rel), str(eid)) for rel, eid in payload["version_inputs"]],
        dataset_version=payload["dataset_version"],
        resume=resume,
    )
    result = finish_run(ctx, prepared, recorder, fitted, folder=folder, finish=finish)
    result_file = folder / RESULT_ARTIFACT
    result_file.write_text(result.model_dump_json(), encoding="utf-8")
    recorder.log_file(result_file, RESULT_ARTIFACT)
    recorder.close()  # written now; the driver ends the run


def _worker_prepared(ctx: Context, cfg: TrainConfig, payload: dict[str, Any]) -> Any:
    """What ``fit`` needs, built on this worker: the model through the store, the rows from the driver."""
    from llmloop.services.train.device import detect_device, use_bf16
    from llmloop.services.train.model_source import load_tokenizer, resolve_model
    from llmloop.services.train.schemas import Plan
    from llmloop.services.train.service import Prepared

    project = payload["project"]
    device = detect_device(cfg.compute.device, threads=cfg.compute.threads)
    bf16 = use_bf16(cfg.training.bf16, device)
    source = resolve_model(ctx, cfg.model.base, project=project, adapter=cfg.model.adapter)
    tokenizer = load_tokenizer(source)
    chat = bool(getattr(tokenizer, "chat_template", None))
    train_rows, eval_rows = payload["train_rows"], payload["eval_rows"]
    plan = Plan.model_validate_json(payload["plan"])  # the driver's; workers do not re-plan
    return Prepared(cfg, project, device, bf16, source, tokenizer, chat, [], train_rows, eval_rows, plan)
