"""The training config: one YAML file, validated by Pydantic, split by concern.

    name: travel-sft            # the run's name and the model name the result is registered under
    method: sft                 # sft | dpo | distill
    model:    {base: smollm2-135m-instruct}
    data:     {train: data/sft.jsonl, eval: data/eval.jsonl}
    lora:     {r: 16, alpha: 32}
    training: {learning_rate: 2.0e-4, max_steps: 60, batch_size: 8}

Every key has a ``Field(description=…)`` (the reference docs and ``--help`` read them). Errors
name the key path (``training.learning_rate``) and, for an unknown key, the closest valid one,
so a typo never trains silently with a default. Paths in a YAML file are relative to that file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmloop.errors import InvalidInput
from llmloop.validation import KeyProblem, format_validation_error, unknown_key

Method = Literal["sft", "dpo", "distill"]
Scheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
]

# Names people reach for that difflib cannot guess from spelling alone.
SYNONYMS: dict[str, str] = {
    "lr": "learning_rate",
    "epochs": "num_epochs",
    "num_train_epochs": "num_epochs",
    "steps": "max_steps",
    "rank": "r",
    "lora_r": "r",
    "lora_alpha": "alpha",
    "lora_dropout": "dropout",
    "max_length": "max_seq_length",
    "seq_len": "max_seq_length",
    "bs": "batch_size",
    "per_device_train_batch_size": "batch_size",
    "grad_accum": "gradient_accumulation_steps",
    "lr_scheduler_type": "lr_scheduler",
    "scheduler": "lr_scheduler",
    "warmup": "warmup_ratio",
    "model_name_or_path": "base",
    "dataset": "train",
    "validation": "eval",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DatasetSpec(_Section):
    """A dataset by registry reference (``travel-sft@1``) or by local file; a plain string is either."""

    ref: str | None = Field(
        None, description="Dataset reference NAME[@VERSION|@ALIAS] in the datasets registry."
    )
    path: str | None = Field(None, description="A local JSONL file (relative paths: to the config file).")
    split: str | None = Field(
        None, description="Split of a registered dataset version (train, validation, …)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"path": value} if looks_like_path(value) else {"ref": value}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.ref is None) == (self.path is None):
            raise ValueError("give exactly one of 'ref' (a dataset reference) or 'path' (a local JSONL file)")
        return self

    def __str__(self) -> str:
        return self.ref if self.ref is not None else str(self.path)


def looks_like_path(text: str) -> bool:
    """A path has a separator or a data-file suffix; anything else is a registry reference."""
    return "/" in text or os.sep in text or text.endswith((".jsonl", ".json")) or Path(text).exists()


class ModelSection(_Section):
    base: str = Field(
        description="Base model: a registry reference (smollm2-135m-instruct, travel-sft@2) or a local "
        "Hugging Face folder. A model version with an adapter is merged first (DPO after SFT)."
    )
    adapter: str | None = Field(
        None,
        description="A local PEFT adapter folder merged into the base first (e.g. an SFT run's adapter).",
    )


class DataSection(_Section):
    train: DatasetSpec | None = Field(
        None, description="Training rows: text, prompt_completion or chat for sft; preference for dpo."
    )
    eval: DatasetSpec | None = Field(
        None, description="Held-out rows for eval loss (same kinds; eval rows with input/reference work too)."
    )
    eval_fraction: float = Field(
        0.0,
        ge=0.0,
        lt=0.5,
        description="Carve this share of train off as eval, by seeded row hash, when no eval.",
    )
    max_train_rows: int | None = Field(
        None, gt=0, description="Use only the first N training rows (smoke runs)."
    )
    max_eval_rows: int | None = Field(
        None, gt=0, description="Use only the first N eval rows (eval is not free)."
    )
    system_prompt: str | None = Field(
        None, description="System message put before rows that have none (string prompts become chats)."
    )
    prompt: str | None = Field(
        None,
        description="Registered prompt (NAME, NAME@VERSION) that renders eval rows (input, reference and "
        "the prompt's variables) into chats, as evaluation and serving render them; pinned and recorded "
        "on the model version.",
    )


class LoraSection(_Section):
    enabled: bool = Field(True, description="false = full fine-tune (every weight trains; much more memory).")
    r: int = Field(16, gt=0, le=1024, description="LoRA rank: adapter size and capacity.")
    alpha: int = Field(32, gt=0, description="LoRA scaling numerator; the update is scaled by alpha / r.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt (q_proj, v_proj, …) or all-linear."
    )
    top_layers: int | None = Field(
        None,
        gt=0,
        description=(
            "Adapt only the last N transformer blocks (default: all). The backward pass then stops"
            " below them: with 10 of SmolLM2's 30 blocks a step is ~1.5x faster on CPU."
        ),
    )
    quantization: Literal["none", "4bit"] = Field(
        "none", description="4bit = QLoRA (base weights in 4-bit NF4; needs CUDA and bitsandbytes)."
    )


class TrainingSection(_Section):
    learning_rate: float = Field(
        2e-4, gt=0, le=1.0, description="Peak learning rate (LoRA likes ~1e-4..1e-3)."
    )
    lr_scheduler: Scheduler = Field("linear", description="Learning-rate schedule after warmup.")
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="Share of steps spent warming the lr up.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    num_epochs: float = Field(
        1.0, gt=0, description="Passes over the training rows (ignored when max_steps set)."
    )
    max_steps: int | None = Field(None, gt=0, description="Optimizer steps to run; wins over num_epochs.")
    batch_size: int = Field(8, gt=0, description="Rows per forward pass (per device).")
    gradient_accumulation_steps: int = Field(
        1, gt=0, description="Forward passes per optimizer step; effective batch = batch_size x this."
    )
    max_seq_length: int = Field(512, gt=8, description="Tokens per row; longer rows are truncated.")
    packing: bool = Field(False, description="Pack short rows into full max_seq_length sequences (sft).")
    assistant_only_loss: bool = Field(
        True, description="Chat/prompt rows: loss on the answer tokens only (false = on every token)."
    )
    seed: int = Field(
        42, description="Seeds weights init of the adapter and the data order (resume relies on it)."
    )
    eval_steps: int | None = Field(
        None, gt=0, description="Evaluate every N steps (default: at the end only)."
    )
    save_steps: int | None = Field(
        None, gt=0, description="Checkpoint every N steps (resume restarts from the last)."
    )
    save_total_limit: int | None = Field(
        2, gt=0, description="Checkpoints kept on disk (older ones deleted)."
    )
    early_stopping_patience: int | None = Field(
        None, gt=0, description="Stop after N evaluations without eval-loss improvement (needs eval data)."
    )
    early_stopping_threshold: float = Field(0.0, ge=0.0, description="Smallest eval-loss drop that counts.")
    bf16: bool | Literal["auto"] = Field(
        "auto",
        description="bfloat16 autocast; auto = on where the device supports it (this CPU: avx512_bf16), "
        "and fp16 mixed precision on a CUDA GPU without bf16.",
    )
    gradient_checkpointing: bool = Field(
        False,
        description="Recompute activations in backward: less memory, ~25% slower (TRL turns it on by default).",
    )
    log_every: int = Field(
        10, gt=0, description="Log loss, lr, grad norm, tokens/s and memory every N steps."
    )


class DpoSection(_Section):
    beta: float = Field(
        0.1, gt=0, description="Strength of the pull towards the reference (adapter disabled)."
    )
    loss_type: Literal["sigmoid", "hinge", "ipo"] = Field("sigmoid", description="DPO loss variant.")


class DistillSection(_Section):
    teacher: str = Field(
        description="Teacher: a model reference or a local HF folder answered through an engine, or the name a "
        "teacher callable was passed under (ll.train(config, teacher=fn))."
    )
    prompts: DatasetSpec = Field(
        description="Prompts the teacher answers (chat, prompt, prompt_completion or eval rows)."
    )
    engine: str | None = Field(
        None, description="Engine for the teacher (transformers, llamacpp, openai, …)."
    )
    max_new_tokens: int = Field(128, gt=0, description="Longest teacher answer.")
    temperature: float = Field(0.0, ge=0.0, description="Teacher sampling temperature (0 = greedy).")
    batch_size: int = Field(8, gt=0, description="Prompts per teacher call.")
    dataset_name: str | None = Field(
        None, description="Name of the dataset the answers become (default NAME-distilled)."
    )


class ComputeSection(_Section):
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to train; auto picks CUDA, MPS, CPU."
    )
    threads: int | None = Field(
        None, gt=0, description="CPU threads for torch (default: torch's choice, all cores)."
    )
    memory_limit_gb: float | None = Field(
        None, gt=0, description="Refuse to start above this estimate (default: the memory available now)."
    )


class DistributedSection(_Section):
    """Data-parallel training on Ray Train's ``TorchTrainer``: each worker holds a whole copy of the
    model, trains on its shard of the rows and averages gradients every step (DDP), so a GPU
    cluster changes these numbers, not the config's other keys or the code."""

    workers: int = Field(
        ge=1,
        description="Ray Train workers (processes) training data-parallel; each takes 1/N of the rows per "
        "epoch, so an epoch has N times fewer optimizer steps of training.batch_size rows per worker. "
        "Ray is started locally, or joined at LLMLOOP_EXECUTOR=ray://host:port.",
    )
    cpus_per_worker: float = Field(1.0, gt=0, description="CPU cores Ray reserves for each worker.")
    gpus_per_worker: float = Field(
        0.0, ge=0, description="GPUs Ray reserves for each worker (0 = train on CPU)."
    )
    backend: Literal["auto", "gloo", "nccl"] = Field(
        "auto",
        description="torch.distributed backend: auto = nccl with GPUs, gloo on CPU.",
    )

    @property
    def resolved_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        return "nccl" if self.gpus_per_worker > 0 else "gloo"


class TrainConfig(_Section):
    name: str = Field(description="Run name and the model name the result is registered under.")
    project: str | None = Field(
        None, description="Project for the run and the model (default: LLMLOOP_DEFAULT_PROJECT)."
    )
    method: Method = Field(
        "sft", description="sft (supervised), dpo (preferences) or distill (teacher → student)."
    )
    model: ModelSection = Field(description="The base model.")
    data: DataSection = Field(default_factory=DataSection, description="Training and eval rows.")
    lora: LoraSection = Field(default_factory=LoraSection, description="Adapter settings.")
    training: TrainingSection = Field(
        default_factory=TrainingSection, description="Optimisation and cadence."
    )
    dpo: DpoSection = Field(default_factory=DpoSection, description="DPO settings (method dpo).")
    distill: DistillSection | None = Field(None, description="Teacher and prompts (method distill).")
    compute: ComputeSection = Field(default_factory=ComputeSection, description="Device and memory limit.")
    distributed: DistributedSection | None = Field(
        None,
        description="Train data-parallel across Ray Train workers (workers, gpus_per_worker); default: one "
        "process, no Ray.",
    )
    register_model: bool = Field(
        True, description="Register the result as a model version when training succeeds."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        t = self.training
        if "num_epochs" in t.model_fields_set and t.max_steps is not None:
            raise KeyProblem(
                "training.max_steps", "set one of training.num_epochs or training.max_steps, not both"
            )
        if self.method in ("sft", "dpo") and self.data.train is None:
            raise KeyProblem("data.train", f"method {self.method!r} needs data.train")
        if self.method == "distill" and self.distill is None:
            raise KeyProblem("distill", "method 'distill' needs a distill section (teacher, prompts)")
        has_eval = self.data.eval is not None or self.data.eval_fraction > 0
        if t.early_stopping_patience is not None:
            if not has_eval:
                raise KeyProblem(
                    "training.early_stopping_patience", "early stopping needs data.eval or data.eval_fraction"
                )
            if t.eval_steps is None:
                raise KeyProblem("training.eval_steps", "early stopping needs training.eval_steps")
            if t.save_steps is not None and t.save_steps % t.eval_steps:
                raise KeyProblem(
                    "training.save_steps", "with early stopping, save_steps must be a multiple of eval_steps"
                )
        d = self.distributed
        if d is not None and d.backend == "nccl" and d.gpus_per_worker == 0:
            raise KeyProblem("distributed.backend", "nccl needs GPUs: set distributed.gpus_per_worker")
        if d is not None and d.gpus_per_worker > 0 and self.compute.device not in ("auto", "cuda"):
            raise KeyProblem(
                "compute.device",
                f"distributed.gpus_per_worker needs device auto or cuda, not {self.compute.device}",
            )
        if t.packing and self.method != "sft":
            raise KeyProblem("training.packing", "packing applies to sft only")
        return self

    @property
    def effective_batch(self) -> int:
        return self.training.batch_size * self.training.gradient_accumulation_steps


# ----------------------------------------------------------------------------- loading


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read a YAML file into a TrainConfig; relative data paths become relative to the file."""
    p = Path(path)
    raw = read_yaml(p)
    return parse_config(raw, source=str(p), base_dir=p.resolve().parent, overrides=overrides)


def read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InvalidInput(f"config file not found: {path}", details={"file": str(path)}) from e
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"cannot read config {path}: {e}", details={"file": str(path)}) from e
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInput(
            f"{path}{where}: not valid YAML ({getattr(e, 'problem', None) or e})",
            details={"file": str(path), "line": mark.line + 1 if mark is not None else None},
        ) from e
    if raw is None:
        raise InvalidInput(f"{path} is empty", details={"file": str(path)})
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: the top level must be a mapping of keys", details={"file": str(path)})
    return raw


def parse_config(
    raw: Mapping[str, Any] | TrainConfig,
    *,
    source: str = "config",
    base_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Validate a mapping (from YAML, the SDK or a sweep trial); errors name the key path."""
    if isinstance(raw, TrainConfig):
        data: dict[str, Any] = raw.model_dump(exclude_unset=True)
    else:
        data = _deep_copy(dict(raw))
    for key, value in (overrides or {}).items():
        set_key(data, key, value, source=source)
    try:
        cfg = TrainConfig.model_validate(data)
    except ValidationError as e:
        raise config_error(e, TrainConfig, source=source) from None
    return _resolve_paths(cfg, base_dir) if base_dir is not None else cfg


def _resolve_paths(cfg: TrainConfig, base_dir: Path) -> TrainConfig:
    def fix(spec: DatasetSpec | None) -> DatasetSpec | None:
        if spec is None or spec.path is None or Path(spec.path).is_absolute():
            return spec
        return spec.model_copy(update={"path": str((base_dir / spec.path).resolve())})

    data = cfg.data.model_copy(update={"train": fix(cfg.data.train), "eval": fix(cfg.data.eval)})
    update: dict[str, Any] = {"data": data}
    if cfg.distill is not None:
        update["distill"] = cfg.distill.model_copy(update={"prompts": fix(cfg.distill.prompts)})
        teacher = cfg.distill.teacher
        if looks_like_path(teacher) and not Path(teacher).is_absolute():
            update["distill"] = update["distill"].model_copy(
                update={"teacher": str((base_dir / teacher).resolve())}
            )
    model_update = {}
    base, adapter = cfg.model.base, cfg.model.adapter
    if looks_like_path(base) and not Path(base).is_absolute():
        model_update["base"] = str((base_dir / base).resolve())
    if adapter is not None and not Path(adapter).is_absolute():
        model_update["adapter"] = str((base_dir / adapter).resolve())
    if model_update:
        update["model"] = cfg.model.model_copy(update=model_update)
    return cfg.model_copy(update=update)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# ----------------------------------------------------------------------------- key paths


def set_key(data: dict[str, Any], key: str, value: Any, *, source: str = "config") -> None:
    """Set ``a.b.c`` in a nested mapping after checking the path names real config keys."""
    check_key_path(key, source=source)
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None or not isinstance(child, (str, DatasetSpec)) else _spec_dict(child)
            node[part] = child
        node = child
    node[parts[-1]] = value


def _spec_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, DatasetSpec):
        return value.model_dump(exclude_none=True)
    return DatasetSpec.model_validate(value).model_dump(exclude_none=True)


def check_key_path(key: str, *, source: str = "config", root: type[BaseModel] = TrainConfig) -> str:
    """Raise InvalidInput naming the first unknown segment of ``key`` and the closest valid key."""
    model: type[BaseModel] | None = root
    done: list[str] = []
    for part in key.split("."):
        if model is None:
            raise InvalidInput(
                f"{source}: {'.'.join(done)} takes a value, not keys (got {key!r})",
                details={"file": source, "key": key},
            )
        if part not in model.model_fields:
            raise unknown_key(
                [*done, part],
                list(model.model_fields),
                where=source,
                details={"file": source},
                synonyms=SYNONYMS,
            )
        done.append(part)
        model = _section_of(model.model_fields[part].annotation)
    return key


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The config section class inside an annotation (``X | None`` included), or None for a value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _section_of(arg)
            if found is not None:
                return found
    return None


def config_error(err: ValidationError, root: type[BaseModel], *, source: str) -> InvalidInput:
    """The first Pydantic error as one InvalidInput that names the file and key path."""
    return format_validation_error(err, where=source, model=root, details={"file": source}, synonyms=SYNONYMS)


def flatten(cfg: TrainConfig) -> dict[str, Any]:
    """``{"training.learning_rate": 2e-4, …}``: the run's params, one per key."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value

    walk("", cfg.model_dump(mode="json", exclude_none=True))
    return out


def to_yaml(cfg: TrainConfig) -> str:
    """The resolved config, every default spelled out: stored with the run and its checkpoints."""
    import yaml

    data = cfg.model_dump(mode="json")
    if cfg.training.max_steps is not None:  # max_steps wins; writing both would not load again
        del data["training"]["num_epochs"]
    return str(yaml.safe_dump(data, sort_keys=False))
