"""Training service: config → tracked run → adapter artifacts → (registered) model version.

    prepare  resolve the base model and datasets, check kinds, shape rows, plan (no weights loaded)
    train    refuse what cannot fit; start a run (config, env, inputs, lineage); train with TRL;
             store the adapter; register it; end the run — or end it failed/killed and re-raise

Every interface (CLI, SDK, sweeps, Ray workers) calls ``train``; resume and sweeps are thin layers
on it. Failures leave the run ``failed`` with a ``failure`` tag, the checkpoints on disk, and the
registry untouched.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError, Unavailable
from llmloop.refs import validate_name
from llmloop.services.train.config import TrainConfig, flatten, to_yaml
from llmloop.services.train.data import (
    LoadedDataset,
    load_dataset,
    preference_rows,
    prompt_messages,
    prompted,
    require_kind,
    sft_rows,
    split_eval,
)
from llmloop.services.train.device import Device, detect_device, peak_rss_bytes, use_bf16
from llmloop.services.train.model_source import ModelSource, load_model, load_tokenizer, resolve_model
from llmloop.services.train.plan import make_plan, require_fit
from llmloop.services.train.recorder import RunRecorder, output_edge, run_edge
from llmloop.services.train.schemas import Plan, TrainResult
from llmloop.services.train.teacher import Teacher
from llmloop.services.train.trainers import library_noise_muted


class TrainingDiverged(InvalidInput):
    """The loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


@dataclass
class Prepared:
    cfg: TrainConfig
    project: str
    device: Device
    bf16: bool
    source: ModelSource
    tokenizer: Any
    chat: bool
    inputs: list[LoadedDataset]  # every dataset read, for lineage
    train_rows: list[dict[str, Any]]
    eval_rows: list[dict[str, Any]]
    plan: Plan
    prompts: LoadedDataset | None = None


@dataclass(frozen=True)
class ResumePoint:
    """Where ``train`` continues: an older run's checkpoint folder and the checkpoint in it."""

    run_id: str
    checkpoint_dir: Path
    checkpoint: Path


@dataclass
class TrainOptions:
    teacher: Teacher | None = None
    callbacks: Sequence[Any] = ()
    parent_run_id: str | None = None
    show_progress: bool = False
    resume: ResumePoint | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_kind: str = "train"


def prepare(ctx: Context, cfg: TrainConfig) -> Prepared:
    """Everything up to the first weight: cheap enough for ``--plan`` (seconds)."""
    project = cfg.project or ctx.settings.default_project
    validate_name(project, what="project")
    ctx.require("runs:read", project)
    device = detect_device(cfg.compute.device, threads=cfg.compute.threads)
    bf16 = use_bf16(cfg.training.bf16, device)
    source = resolve_model(ctx, cfg.model.base, project=project, adapter=cfg.model.adapter)
    tokenizer = load_tokenizer(source)
    chat = bool(getattr(tokenizer, "chat_template", None))
    inputs: list[LoadedDataset] = []
    train_rows: list[dict[str, Any]] = []
    eval_rows: list[dict[str, Any]] = []
    prompts: LoadedDataset | None = None
    extra_tokens = 0
    if cfg.method == "distill":
        assert cfg.distill is not None
        prompts = load_dataset(
            ctx, cfg.distill.prompts, key="distill.prompts", project=project, max_rows=cfg.data.max_train_rows
        )
        require_kind(prompts, "distill")
        inputs.append(prompts)
        train_rows = [{"prompt": m} for m in prompt_messages(prompts, system_prompt=cfg.data.system_prompt)]
        extra_tokens = cfg.distill.max_new_tokens // 2
        if cfg.data.eval is not None:
            held_out = load_dataset(
                ctx, cfg.data.eval, key="data.eval", project=project, max_rows=cfg.data.max_eval_rows
            )
            require_kind(held_out, "sft")
            inputs.append(held_out)
            eval_rows = shape_rows(cfg, held_out, chat)
    else:
        assert cfg.data.train is not None
        train = load_dataset(
            ctx, cfg.data.train, key="data.train", project=project, max_rows=cfg.data.max_train_rows
        )
        require_kind(train, cfg.method)
        inputs.append(train)
        held: LoadedDataset | None = None
        if cfg.data.eval is not None:
            held = load_dataset(
                ctx, cfg.data.eval, key="data.eval", project=project, max_rows=cfg.data.max_eval_rows
            )
            require_kind(held, cfg.method)
            inputs.append(held)
        elif cfg.data.eval_fraction > 0:
            kept, carved = split_eval(train.rows, cfg.data.eval_fraction, cfg.training.seed)
            held = LoadedDataset(
                "data.eval_fraction", train.source, train.kind, carved, train.entity_type, train.entity_id
            )
            train = LoadedDataset(
                train.key, train.source, train.kind, kept, train.entity_type, train.entity_id, train.path
            )
        if cfg.data.prompt is not None:
            cfg, render = _pin_prompt(ctx, cfg, project)
            train = prompted(train, render)
            held = prompted(held, render) if held is not None else None
        train_rows = shape_rows(cfg, train, chat)
        eval_rows = shape_rows(cfg, held, chat) if held is not None else []
        if cfg.data.max_eval_rows:
            eval_rows = eval_rows[: cfg.data.max_eval_rows]
    plan = make_plan(
        cfg,
        source=source,
        tokenizer=tokenizer,
        train_rows=train_rows,
        eval_rows=eval_rows,
        device=device,
        bf16=bf16,
        extra_tokens_per_row=extra_tokens,
    )
    return Prepared(
        cfg, project, device, bf16, source, tokenizer, chat, inputs, train_rows, eval_rows, plan, prompts
    )


def _pin_prompt(
    ctx: Context, cfg: TrainConfig, project: str
) -> tuple[TrainConfig, Callable[[Mapping[str, Any]], list[dict[str, str]]]]:
    """The config with ``data.prompt`` pinned to NAME@VERSION, and that version's renderer.

    Pinned so the model version records the exact prompt it learned, which evaluation and serving
    then use to ask it.
    """
    from llmloop.services.prompts.service import row_renderer

    assert cfg.data.prompt is not None
    try:
        version, render = row_renderer(ctx, project=project, ref=cfg.data.prompt)
    except LlmloopError as e:
        raise type(e)(f"data.prompt: {e.message}", details={**e.details, "key": "data.prompt"}) from e
    data_section = cfg.data.model_copy(update={"prompt": version.ref})
    return cfg.model_copy(update={"data": data_section}), render


def shape_rows(cfg: TrainConfig, ds: LoadedDataset, chat: bool) -> list[dict[str, Any]]:
    if cfg.method == "dpo":
        return preference_rows(ds, chat=chat, system_prompt=cfg.data.system_prompt)
    return sft_rows(
        ds, chat=chat, system_prompt=cfg.data.system_prompt, answer_only=cfg.training.assistant_only_loss
    )


def plan_training(ctx: Context, *, config: TrainConfig) -> Plan:
    with library_noise_muted():
        return prepare(ctx, config).plan


def train(ctx: Context, *, config: TrainConfig, options: TrainOptions | None = None) -> TrainResult:
    """Run one training end to end as a tracked run; see the module docstring for the steps."""
    opts = options or TrainOptions()
    if config.distributed is not None:  # refused before anything is recorded
        from llmloop.services.train.distributed import require_distributed

        require_distributed(config, opts)
    with library_noise_muted():
        prepared = prepare(ctx, config)
    require_fit(prepared.plan)
    ctx.require("runs:write", prepared.project)
    recorder = _start_run(ctx, prepared, opts)
    try:
        with library_noise_muted():
            result = _run(ctx, prepared, recorder, opts)
    except KeyboardInterrupt:
        recorder.set_tags({"failure": "interrupted"})
        recorder.end("killed")
        raise
    except BaseException as e:
        recorder.set_tags({"failure": _failure_text(e)})
        recorder.end("failed")
        raise _translate(e, prepared) from e
    recorder.end("finished")
    return result


def _failure_text(e: BaseException) -> str:
    text = e.message if isinstance(e, LlmloopError) else f"{type(e).__name__}: {e}"
    return text[:2000]


def _translate(e: BaseException, prepared: Prepared) -> BaseException:
    """Out-of-memory and a full disk become errors that say what to change; ours pass through."""
    if isinstance(e, LlmloopError):
        return e
    import torch

    oom = isinstance(e, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower()
    )
    if oom:
        gib = prepared.plan.memory.total_bytes / 2**30
        return Unavailable(
            f"training ran out of memory (estimated ≈{gib:.1f} GiB): lower training.batch_size or "
            "training.max_seq_length, or turn on training.gradient_checkpointing",
            details={"key": "training.batch_size"},
        )
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return Unavailable(
            f"disk full while writing checkpoints ({e.filename or 'checkpoint folder'}); free space under LLMLOOP_HOME "
            "or lower training.save_total_limit, then resume with: llmloop train --resume RUN_ID",
            details={"path": str(e.filename or "")},
        )
    return e


def checkpoints_root(ctx: Context) -> Path:
    return Path(ctx.settings.home) / "checkpoints"


def _start_run(ctx: Context, prepared: Prepared, opts: TrainOptions) -> RunRecorder:
    cfg = prepared.cfg
    params = {
        **flatten(cfg),
        "plan.total_steps": prepared.plan.total_steps,
        "plan.params_trainable": prepared.plan.params_trainable,
    }
    tags = {
        "method": cfg.method,
        "base": prepared.source.ref,
        "device": prepared.device.kind,
        "bf16": str(prepared.bf16).lower(),
        **opts.tags,
    }
    if opts.resume is not None:
        tags["resumed_from"] = opts.resume.run_id
    recorder = RunRecorder.start(
        ctx,
        project=prepared.project,
        name=cfg.name,
        params=params,
        tags=tags,
        kind=opts.run_kind,
        parent_id=opts.parent_run_id,
    )
    folder = opts.resume.checkpoint_dir if opts.resume is not None else checkpoints_root(ctx) / recorder.id
    folder.mkdir(parents=True, exist_ok=True)
    recorder.set_tags({"checkpoint_dir": str(folder)})
    (folder / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")
    recorder.log_file(folder / "config.yaml", "config.yaml")
    return recorder


# A dataset's relation to the run (and to the version it registers) by the key it was read under;
# "distill.teacher" is the dataset of the teacher's answers, which a distilled student trains on.
_RELATIONS = {
    "data.train": "train_data",
    "data.eval": "eval_data",
    "distill.prompts": "prompts",
    "distill.teacher": "train_data",
}


def _record_inputs(datasets: list[LoadedDataset], recorder: RunRecorder) -> None:
    """``dataset --relation--> run`` for each dataset the run reads; a local file is kept as an input artifact."""
    edges = []
    for ds in datasets:
        if ds.path is not None:
            recorder.log_file(ds.path, f"inputs/{ds.key.replace('.', '_')}.jsonl")
        edges.append(run_edge(ds.entity_type, ds.entity_id, _RELATIONS[ds.key], recorder.id))
    recorder.add_lineage(edges)


def _run(ctx: Context, prepared: Prepared, recorder: RunRecorder, opts: TrainOptions) -> TrainResult:
    cfg = prepared.cfg
    folder = _checkpoint_dir(ctx, recorder, opts)
    source = prepared.source
    recorder.add_lineage([run_edge(source.entity_type, source.entity_id, "base_model", recorder.id)])
    inputs = list(prepared.inputs)  # every dataset the run reads: its lineage and the version's
    _record_inputs(inputs, recorder)
    if opts.resume is not None:
        recorder.add_lineage([output_edge(opts.resume.run_id, "resumed_as", "run", recorder.id)])
    train_rows, dataset_version = prepared.train_rows, None
    if cfg.method == "distill":
        distilled = _distilled(ctx, prepared, recorder, opts, folder)
        _record_inputs([distilled], recorder)
        inputs.append(distilled)
        train_rows = sft_rows(
            distilled, chat=prepared.chat, system_prompt=None, answer_only=cfg.training.assistant_only_loss
        )
        dataset_version = distilled.source
    finish = Finish(
        version_inputs=[
            (_RELATIONS[d.key], d.entity_id) for d in inputs if d.entity_type == "dataset_version"
        ],
        dataset_version=dataset_version,
        resume=opts.resume,
    )
    if cfg.distributed is not None:
        from llmloop.services.train.distributed import run_distributed

        return run_distributed(ctx, prepared, recorder, train_rows=train_rows, folder=folder, finish=finish)
    fitted = fit(prepared, recorder, opts, train_rows=train_rows, folder=folder)
    return finish_run(ctx, prepared, recorder, fitted, folder=folder, finish=finish)


@dataclass(frozen=True)
class Finish:
    """What the rank that registers needs beyond the trainer: lineage of the version and resume origin."""

    version_inputs: list[tuple[str, str]]  # (relation, dataset version id) for the model version
    dataset_version: str | None  # distill: the dataset the teacher's answers became
    resume: ResumePoint | None


@dataclass
class Fitted:
    trainer: Any
    logs: dict[str, float]  # the last value of each metric the tracking callback saw
    out_dir: Path
    train_s: float  # wall-clock seconds of trainer.train (the epochs, without loading or saving)


def fit(
    prepared: Prepared,
    recorder: RunRecorder | None,
    opts: TrainOptions,
    *,
    train_rows: list[dict[str, Any]],
    folder: Path,
) -> Fitted:
    """Load the model, train, evaluate at the end and save the result into ``folder/final``.

    Every data-parallel rank runs this; only the one given a ``recorder`` (rank 0, or the single
    process) reports to the llmloop run.
    """
    from llmloop.services.train.callbacks import NanGuard, NanStopCallback, ProgressCallback, TrackingCallback

    cfg = prepared.cfg
    model = load_model(prepared.source, quantization=cfg.lora.quantization)
    guard = NanGuard()
    tracking_cb = TrackingCallback(recorder) if recorder is not None else None
    progress = ProgressCallback(cfg.name) if opts.show_progress and recorder is not None else None
    callbacks: list[Any] = [*([tracking_cb] if tracking_cb is not None else []), *opts.callbacks]
    if cfg.training.early_stopping_patience is not None:
        from transformers import EarlyStoppingCallback

        callbacks.append(
            EarlyStoppingCallback(cfg.training.early_stopping_patience, cfg.training.early_stopping_threshold)
        )
    if progress is not None:
        callbacks.append(progress)
    trainer = _build_trainer(prepared, model, train_rows, folder, callbacks)
    trainer.nan_guard = guard
    trainer.add_callback(
        NanStopCallback(guard, lambda: [p for p in trainer.model.parameters() if p.requires_grad])
    )
    started = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=str(opts.resume.checkpoint) if opts.resume is not None else None)
    finally:
        if progress is not None:
            progress.close()
    train_s = time.perf_counter() - started
    state = trainer.state
    if guard.tripped:
        last = guard.last_good_checkpoint or (
            str(opts.resume.checkpoint) if opts.resume is not None else None
        )
        if recorder is not None:
            recorder.set_tags({"nan_step": str(guard.bad_step), "last_good_checkpoint": last or "none"})
        raise TrainingDiverged(
            f"loss became {guard.value} at step {guard.bad_step}; training stopped. Last good checkpoint: "
            f"{last or 'none (no checkpoint was saved before)'}. Lower training.learning_rate or check the data.",
            details={"run_id": recorder.id if recorder else None, "step": guard.bad_step, "checkpoint": last},
        )
    if prepared.eval_rows and not _evaluated_at(state, state.global_step):
        trainer.evaluate()  # data-parallel: every rank takes part in this evaluation
    out_dir = folder / "final"
    trainer.save_model(str(out_dir))  # data-parallel: only the main process writes
    return Fitted(trainer, tracking_cb.last_logs if tracking_cb is not None else {}, out_dir, train_s)


def finish_run(
    ctx: Context, prepared: Prepared, recorder: RunRecorder, fitted: Fitted, *, folder: Path, finish: Finish
) -> TrainResult:
    """Store the result as run artifacts, register the model version, tag the run (one process does this)."""
    from llmloop.services.train.outputs import register_model_version, store_output

    cfg = prepared.cfg
    state, out_dir = fitted.trainer.state, fitted.out_dir
    is_adapter = cfg.lora.enabled
    if not is_adapter:
        prepared.tokenizer.save_pretrained(str(out_dir))
    stored = store_output(recorder, out_dir, is_adapter=is_adapter)
    stopped_early = state.global_step < state.max_steps
    recorder.log_metrics({"peak_rss_mb": peak_rss_bytes() / 2**20}, step=state.global_step)
    version = None
    if cfg.register_model:
        recorder.flush()  # the registry reads the run: its tags and metrics are in the store first
        version = register_model_version(
            ctx,
            name=cfg.name,
            project=prepared.project,
            base=prepared.source,
            output=stored,
            run_id=recorder.id,
            method=cfg.method,
            inputs=finish.version_inputs,
            metadata={
                "method": cfg.method,
                "training_config": flatten(cfg),
                **({"prompt": cfg.data.prompt} if cfg.data.prompt else {}),
            },
        )
    # the weights file is an output whether or not a registry names it: a later run that takes the
    # adapter folder directly (model.adapter) links back to this run through it
    produced = [output_edge(recorder.id, "produced", "artifact", stored.weights_sha256)]
    if version:
        produced.append(output_edge(recorder.id, "produced", "model_version", version.id))
    recorder.add_lineage(produced)
    tags = {"output": f"{stored.prefix}/", "status_detail": "stopped_early" if stopped_early else "completed"}
    if version:
        tags["model_version"] = version.ref
    recorder.set_tags(tags)
    logs = fitted.logs
    return TrainResult(
        run_id=recorder.id,
        name=cfg.name,
        project=prepared.project,
        method=cfg.method,
        status="stopped_early" if stopped_early else "finished",
        steps=state.global_step,
        total_steps=state.max_steps,
        train_loss=logs.get("train_loss"),
        eval_loss=logs.get("eval_loss"),
        metrics=dict(logs),
        output_dir=str(out_dir),
        artifacts=stored.artifacts,
        model_version=version.ref if version else None,
        checkpoint_dir=str(folder),
        resumed_from=finish.resume.run_id if finish.resume is not None else None,
        dataset_version=finish.dataset_version,
    )


def _checkpoint_dir(ctx: Context, recorder: RunRecorder, opts: TrainOptions) -> Path:
    return opts.resume.checkpoint_dir if opts.resume is not None else checkpoints_root(ctx) / recorder.id


def _evaluated_at(state: Any, step: int) -> bool:
    return any("eval_loss" in entry and entry.get("step") == step for entry in state.log_history)


def _distilled(
    ctx: Context, prepared: Prepared, recorder: RunRecorder, opts: TrainOptions, folder: Path
) -> LoadedDataset:
    """The teacher's answers to the prompts, stored as a dataset version: what the student trains on."""
    from llmloop.services.train.distill import teacher_dataset
    from llmloop.services.train.teacher import resolve_teacher

    cfg = prepared.cfg
    assert cfg.distill is not None and prepared.prompts is not None
    teacher = resolve_teacher(ctx, cfg.distill, given=opts.teacher, project=prepared.project)
    recorder.add_lineage([run_edge(teacher.entity_type, teacher.entity_id, "teacher", recorder.id)])
    return teacher_dataset(
        ctx,
        spec=cfg.distill,
        name=cfg.name,
        project=prepared.project,
        teacher=teacher,
        prompts=prepared.prompts,
        system_prompt=cfg.data.system_prompt,
        recorder=recorder,
        folder=folder / "distill",
    )


def _build_trainer(
    prepared: Prepared, model: Any, train_rows: list[dict[str, Any]], folder: Path, callbacks: list[Any]
) -> Any:
    kwargs: dict[str, Any] = {
        "model": model,
        "tokenizer": prepared.tokenizer,
        "train_rows": train_rows,
        "eval_rows": prepared.eval_rows or None,
        "output_dir": folder,
        "device": prepared.device,
        "bf16": prepared.bf16,
        "callbacks": callbacks,
    }
    if prepared.cfg.method == "dpo":
        from llmloop.services.train.dpo import build_dpo_trainer

        return build_dpo_trainer(prepared.cfg, **kwargs)
    from llmloop.services.train.sft import build_sft_trainer

    return build_sft_trainer(prepared.cfg, **kwargs)
