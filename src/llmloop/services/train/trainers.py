"""What SFT and DPO share: the Trainer arguments our config maps to, the LoRA config, the NaN guard.

The mapping is one table-like function so a reader sees every knob TRL receives in one place and
which of TRL's defaults we override, and why: gradient checkpointing off unless asked (TRL turns
it on; on this CPU it costs 1.6-2x step time), ``report_to`` none (the llmloop run is the report),
the NaN filter off (TRL would average a NaN loss away and train on).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmloop.errors import InvalidInput
from llmloop.services.train.config import TrainConfig
from llmloop.services.train.device import Device


def trainer_kwargs(
    cfg: TrainConfig, *, output_dir: Path, device: Device, bf16: bool, has_eval: bool
) -> dict[str, Any]:
    t = cfg.training
    early = t.early_stopping_patience is not None
    return {
        "output_dir": str(output_dir),
        "learning_rate": t.learning_rate,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_steps": t.warmup_ratio,  # a float in [0, 1) is a ratio of total steps in transformers 5
        "weight_decay": t.weight_decay,
        "max_grad_norm": t.max_grad_norm,
        "num_train_epochs": t.num_epochs,
        "max_steps": t.max_steps if t.max_steps is not None else -1,
        "per_device_train_batch_size": t.batch_size,
        "per_device_eval_batch_size": t.batch_size,
        "gradient_accumulation_steps": t.gradient_accumulation_steps,
        "seed": t.seed,
        "data_seed": t.seed,
        "logging_steps": t.log_every,
        "logging_first_step": True,
        "logging_nan_inf_filter": False,
        "eval_strategy": "steps" if has_eval and t.eval_steps else "no",
        "eval_steps": t.eval_steps if has_eval else None,
        # early stopping reloads the best checkpoint at the end, so it needs one at every evaluation
        "save_strategy": "steps" if t.save_steps or early else "no",
        "save_steps": t.save_steps or (t.eval_steps if early else 500),
        "save_total_limit": t.save_total_limit,
        "load_best_model_at_end": early,
        "metric_for_best_model": "eval_loss" if early else None,
        "greater_is_better": False if early else None,
        "bf16": bf16,
        # an older CUDA GPU without bf16 still gets mixed precision, as fp16, when the config says auto
        "fp16": device.kind == "cuda" and not bf16 and t.bf16 == "auto",
        "activation_checkpointing": t.gradient_checkpointing,
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": device.kind == "cpu",
        "dataloader_num_workers": 0,
        # data-parallel: every trainable weight (the adapter, or all of them) is in every forward, so
        # DDP need not walk the graph each step for unused ones (HF turns that on for a PEFT model)
        "ddp_find_unused_parameters": False,
    }


def lora_config(cfg: TrainConfig, model: Any) -> Any:
    """A PEFT LoraConfig, or None for a full fine-tune."""
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    lora = cfg.lora
    layers = adapted_layers(cfg, model.config)
    targets = lora.target_modules
    if layers is not None and targets == "all-linear":
        targets = linear_module_names(model)  # PEFT takes a block list only with named targets
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        layers_to_transform=layers,
        bias="none",
        task_type="CAUSAL_LM",
    )


def linear_module_names(model: Any) -> list[str]:
    """The names "all-linear" stands for: every linear layer's last name part, but the LM head."""
    import torch

    output = model.get_output_embeddings()
    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not output
        }
    )


def block_count(model_config: Any) -> int:
    """How many transformer blocks a model has (``num_hidden_layers``; GPT-2 style configs map
    ``n_layer`` onto that name)."""
    n = getattr(model_config, "num_hidden_layers", None)
    if not isinstance(n, int) or n <= 0:
        raise InvalidInput(
            "lora.top_layers needs a model whose config states num_hidden_layers",
            details={"key": "lora.top_layers"},
        )
    return n


def adapted_layers(cfg: TrainConfig, model_config: Any) -> list[int] | None:
    """The block indices ``lora.top_layers`` selects (the last N), or None for every block.

    The last blocks, because the backward pass runs from the loss down to the lowest adapted block:
    leaving the lower blocks frozen and unadapted is what makes the step cheaper."""
    top = cfg.lora.top_layers
    if top is None:
        return None
    n = block_count(model_config)
    if top > n:
        raise InvalidInput(
            f"lora.top_layers is {top} but the model has {n} transformer blocks",
            details={"key": "lora.top_layers", "blocks": n},
        )
    return list(range(n - top, n))


def guarded(trainer_cls: type) -> type:
    """A subclass of a TRL trainer whose ``training_step`` shows every loss to a NanGuard."""

    class Guarded(trainer_cls):  # type: ignore[misc]
        nan_guard: Any = None

        def training_step(self, *args: Any, **kwargs: Any) -> Any:
            loss = super().training_step(*args, **kwargs)
            if self.nan_guard is not None:
                self.nan_guard.observe(loss, self.state.global_step + 1)
            return loss

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{trainer_cls.__name__}"
    return Guarded


@contextlib.contextmanager
def library_noise_muted() -> Iterator[None]:
    """Hide the ML libraries' deprecation chatter and per-map progress bars during a training.

    Their FutureWarnings are about their own internals (``is_gradient_checkpointing`` …), not the
    user's config; our progress bar and the run's metrics are the report. Warnings raised by
    llmloop itself are untouched.
    """
    import warnings

    from datasets.utils.logging import disable_progress_bar as datasets_quiet
    from transformers.utils.logging import disable_progress_bar as transformers_quiet

    datasets_quiet()
    transformers_quiet()  # type: ignore[no-untyped-call]
    with warnings.catch_warnings():
        for module in ("transformers", "trl", "peft", "accelerate", "datasets", "torch"):
            warnings.filterwarnings("ignore", category=FutureWarning, module=module)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        yield


def drop_default_printing(trainer: Any) -> None:
    """The Trainer prints every log dict to stdout when tqdm is off; our callbacks report instead."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)
