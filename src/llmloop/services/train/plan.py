"""Pre-flight: parameter counts, steps, tokens per step, memory and time, before a weight is loaded.

Parameters are counted on the *meta* device (the architecture without storage: milliseconds,
no RAM). Memory and time are estimates calibrated on this project's machine (STACK.md: SmolLM2-135M,
LoRA r=16 all-linear, batch 8 x 128 tokens, 2 CPU cores: ~3.2 GB RSS, ~6.5 s/step fp32 and ~4 s/step
bf16 without gradient checkpointing). They are for deciding, not promising: the plan says "≈".
"""

from __future__ import annotations

import math
import re
from typing import Any

from llmloop.errors import InvalidInput
from llmloop.services.train.config import TrainConfig
from llmloop.services.train.device import Device
from llmloop.services.train.model_source import ModelSource, read_model_config
from llmloop.services.train.schemas import MemoryEstimate, Plan
from llmloop.services.train.trainers import adapted_layers

# Effective training throughput per CPU thread (FLOP/s), from the STACK figures above.
CPU_FLOPS_PER_THREAD = {False: 42e9, True: 69e9}
# Rough sustained training FLOP/s elsewhere: good enough to tell minutes from hours.
ACCEL_FLOPS = {("cuda", True): 60e12, ("cuda", False): 15e12, ("mps", True): 3e12, ("mps", False): 2e12}
STEP_OVERHEAD_S = 0.05
RUNTIME_BYTES = 600 * 2**20  # python + torch + transformers + trl, measured RSS before the model loads
SAMPLE_ROWS = 256


def count_parameters(source: ModelSource, cfg: TrainConfig) -> tuple[int, int, dict[str, Any]]:
    """(total, trainable, model config) without allocating weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(source.path))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    total = sum(p.numel() for p in model.parameters())
    if not cfg.lora.enabled:
        return total, total, read_model_config(source)
    targets = cfg.lora.target_modules
    layers = adapted_layers(cfg, config)
    trainable = 0
    output = model.get_output_embeddings()
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or module is output:
            continue
        if layers is not None and block_index(name) not in layers:
            continue
        if targets == "all-linear" or name.rsplit(".", 1)[-1] in targets:
            trainable += cfg.lora.r * (module.in_features + module.out_features)
    if trainable == 0:
        raise InvalidInput(
            f"lora.target_modules {targets} match no linear layer of {source.ref}",
            details={"key": "lora.target_modules"},
        )
    return total, trainable, read_model_config(source)


def block_index(module_name: str) -> int | None:
    """The transformer block a module sits in (``model.layers.7.mlp.up_proj`` → 7), found the way
    PEFT finds it for ``layers_to_transform``: the first number between dots."""
    match = re.match(r".*?\.[^.]*\.(\d+)\.", module_name)
    return int(match.group(1)) if match else None


def row_token_lengths(tokenizer: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Token counts of up to SAMPLE_ROWS rows, rendered the way the trainer will render them."""
    step = max(1, len(rows) // SAMPLE_ROWS)
    out: list[int] = []
    for row in rows[::step][:SAMPLE_ROWS]:
        out.append(_row_tokens(tokenizer, row))
    return out


def _row_tokens(tokenizer: Any, row: dict[str, Any]) -> int:
    def render(value: Any) -> int:
        if isinstance(value, list):
            ids = tokenizer.apply_chat_template(value, tokenize=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            return len(ids)
        return len(tokenizer(str(value))["input_ids"])

    if "messages" in row:
        return render(row["messages"])
    if "text" in row:
        return render(row["text"])
    if "chosen" in row:  # DPO: two sequences per row (counted in tokens_per_step); cut at the longer one
        p = row["prompt"]
        join = (lambda a: [*p, *a]) if isinstance(p, list) else (lambda a: f"{p}{a}")
        return max(render(join(row["chosen"])), render(join(row["rejected"])))
    p, c = row["prompt"], row.get("completion", "")
    return render([*p, *c] if isinstance(p, list) else f"{p}{c}")


def estimate_memory(
    cfg: TrainConfig, model_cfg: dict[str, Any], *, total: int, trainable: int, seq: int, bf16: bool
) -> MemoryEstimate:
    h = int(model_cfg.get("hidden_size") or model_cfg.get("n_embd") or 768)
    inter = int(model_cfg.get("intermediate_size") or 4 * h)
    layers = int(model_cfg.get("num_hidden_layers") or model_cfg.get("n_layer") or 12)
    vocab = int(model_cfg.get("vocab_size") or 32000)
    sequences = cfg.training.batch_size * (2 if cfg.method == "dpo" else 1)
    tokens = sequences * seq
    weights = total // 2 if cfg.lora.quantization == "4bit" else total * 4
    if bf16:
        weights += total * 2  # autocast keeps bf16 copies of the weights it multiplies with
    if cfg.method == "dpo" and not cfg.lora.enabled:
        weights += total * 4  # a frozen reference copy
    state = trainable * (4 + 8)  # fp32 gradient + two AdamW moments
    per_token_layer = 4 * (10 * h + 5 * inter)  # saved inputs of norms, projections, SwiGLU (fp32)
    if cfg.training.gradient_checkpointing:
        activations = tokens * layers * h * 4 + tokens * per_token_layer
    else:
        activations = tokens * layers * per_token_layer
    logits = tokens * vocab * 4 * 3  # logits, log-softmax, their gradient
    total_bytes = weights + state + activations + logits + RUNTIME_BYTES
    return MemoryEstimate(
        weights_bytes=weights,
        training_state_bytes=state,
        activations_bytes=activations,
        logits_bytes=logits,
        runtime_bytes=RUNTIME_BYTES,
        total_bytes=total_bytes,
    )


def estimate_step_seconds(
    cfg: TrainConfig,
    device: Device,
    *,
    total: int,
    tokens_per_step: int,
    bf16: bool,
    backward_share: float = 1.0,
) -> float:
    """``backward_share``: the part of the network the backward pass runs through (LoRA on the
    top blocks only stops it below them)."""
    flops_per_token = (2 + (2 if cfg.lora.enabled else 4) * backward_share) * total
    if cfg.training.gradient_checkpointing:
        flops_per_token += 2 * total  # one more forward
    if cfg.method == "dpo":
        flops_per_token += 2 * total  # the reference forward (adapter disabled)
    if device.kind == "cpu":
        rate = CPU_FLOPS_PER_THREAD[bf16] * max(1, device.threads)
    else:
        rate = ACCEL_FLOPS[(device.kind, bf16)]
    return STEP_OVERHEAD_S + flops_per_token * tokens_per_step / rate


def make_plan(
    cfg: TrainConfig,
    *,
    source: ModelSource,
    tokenizer: Any,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    device: Device,
    bf16: bool,
    extra_tokens_per_row: int = 0,
) -> Plan:
    total, trainable, model_cfg = count_parameters(source, cfg)
    t = cfg.training
    lengths = row_token_lengths(tokenizer, train_rows) if train_rows else [0]
    lengths = [n + extra_tokens_per_row for n in lengths]
    truncated = sum(1 for n in lengths if n > t.max_seq_length)
    capped = [min(n, t.max_seq_length) for n in lengths]
    mean = sum(capped) / len(capped)
    # a batch pads to its longest row; plan for the longest sampled (measured: SmolLM2, travel rows,
    # batch 8, bf16 -> 7.0 GB peak RSS; this estimate 6.7 GiB)
    padded = t.max_seq_length if t.packing else max(capped)
    rows = len(train_rows)
    per_step = cfg.effective_batch
    if t.packing:
        rows = max(1, math.ceil(rows * mean / t.max_seq_length))
    world = cfg.distributed.workers if cfg.distributed is not None else 1  # each worker takes 1/N of the rows
    steps_per_epoch = max(1, math.ceil(math.ceil(rows / world) / per_step))
    total_steps = (
        t.max_steps if t.max_steps is not None else max(1, math.ceil(steps_per_epoch * t.num_epochs))
    )
    tokens_per_step = int(
        per_step * (t.max_seq_length if t.packing else mean) * (2 if cfg.method == "dpo" else 1)
    )
    memory = estimate_memory(cfg, model_cfg, total=total, trainable=trainable, seq=padded, bf16=bf16)
    limit = int(cfg.compute.memory_limit_gb * 2**30) if cfg.compute.memory_limit_gb else device.memory_bytes
    blocks = model_cfg.get("num_hidden_layers") or model_cfg.get("n_layer")
    share = cfg.lora.top_layers / blocks if cfg.lora.top_layers and isinstance(blocks, int) else 1.0
    step_s = estimate_step_seconds(
        cfg, device, total=total, tokens_per_step=tokens_per_step, bf16=bf16, backward_share=share
    )
    notes: list[str] = []
    if truncated:
        notes.append(
            f"{truncated} of {len(lengths)} sampled rows exceed max_seq_length {t.max_seq_length} and are cut"
        )
    if t.max_steps is not None and t.max_steps < steps_per_epoch:
        notes.append(f"max_steps {t.max_steps} covers {t.max_steps / steps_per_epoch:.0%} of one epoch")
    if world > 1:
        notes.append(f"data-parallel on {world} workers: each optimizer step takes {per_step} rows on each")
    if t.gradient_checkpointing:
        notes.append("gradient checkpointing on: less activation memory, ~25% more compute")
    return Plan(
        name=cfg.name,
        method=cfg.method,
        base=source.ref,
        device=device.describe(),
        bf16=bf16,
        params_total=total,
        params_trainable=trainable,
        rows_train=len(train_rows),
        rows_eval=len(eval_rows),
        effective_batch=per_step * world,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        tokens_per_row=round(mean, 1),
        tokens_per_step=tokens_per_step,
        rows_truncated=truncated,
        memory=memory,
        memory_available_bytes=limit,
        fits=memory.total_bytes <= limit,
        step_seconds=round(step_s, 3),
        total_seconds=round(step_s * total_steps, 1),
        notes=notes,
    )


def require_fit(plan: Plan) -> None:
    """Refuse to start a training that the estimate says cannot fit, naming what to change."""
    if plan.fits:
        return
    need = plan.memory.total_bytes / 2**30
    have = plan.memory_available_bytes / 2**30
    raise InvalidInput(
        f"this training needs ≈{need:.1f} GiB but {have:.1f} GiB is available: lower training.batch_size or "
        "training.max_seq_length, turn on training.gradient_checkpointing, or use LoRA (lora.enabled: true)",
        details={
            "key": "training.batch_size",
            "needed_bytes": plan.memory.total_bytes,
            "available_bytes": plan.memory_available_bytes,
        },
    )


def format_plan(plan: Plan) -> str:
    """The plan as nanoGPT-style lines: each derived number with how it was derived."""
    gib = 2**30
    m = plan.memory
    lines = [
        f"plan for {plan.name!r}: {plan.method} on {plan.base}",
        f"device            {plan.device}{'  bf16' if plan.bf16 else '  fp32'}",
        f"parameters        {plan.params_total:,} total, {plan.params_trainable:,} trainable "
        f"({plan.params_trainable / max(1, plan.params_total):.2%})",
        f"rows              {plan.rows_train:,} train, {plan.rows_eval:,} eval",
        f"effective batch   {plan.effective_batch} rows per optimizer step",
        f"tokens per row    ≈{plan.tokens_per_row:g} (sampled)",
        f"tokens per step   ≈{plan.tokens_per_step:,} = effective batch x "
        + ("2 sequences x " if plan.method == "dpo" else "")
        + "tokens per row",
        f"steps             {plan.total_steps:,} ({plan.steps_per_epoch:,} per epoch)",
        f"memory            ≈{m.total_bytes / gib:.2f} GiB = weights {m.weights_bytes / gib:.2f} + optimizer "
        f"{m.training_state_bytes / gib:.2f} + activations {m.activations_bytes / gib:.2f} + logits "
        f"{m.logits_bytes / gib:.2f} + runtime {m.runtime_bytes / gib:.2f}",
        f"available         {plan.memory_available_bytes / gib:.1f} GiB -> {'fits' if plan.fits else 'DOES NOT FIT'}",
        f"time              ≈{plan.step_seconds:.2f} s/step, ≈{_duration(plan.total_seconds)} in all",
    ]
    lines += [f"note              {n}" for n in plan.notes]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
