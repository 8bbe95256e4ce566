"""Direct preference optimisation with TRL's DPOTrainer.

With LoRA the reference model is the policy with its adapter disabled: no second copy of the
weights in memory. When the base is a fine-tuned version (the usual SFT → DPO path), its adapter
was merged into the base when loaded, so "adapter disabled" means exactly that SFT model. A full
fine-tune (``lora.enabled: false``) needs a frozen reference copy, which TRL loads itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmloop.services.train.config import TrainConfig
from llmloop.services.train.device import Device
from llmloop.services.train.trainers import drop_default_printing, guarded, lora_config, trainer_kwargs


def build_dpo_trainer(
    cfg: TrainConfig,
    *,
    model: Any,
    tokenizer: Any,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]] | None,
    output_dir: Path,
    device: Device,
    bf16: bool,
    callbacks: list[Any],
    ref_model: Any = None,
) -> Any:
    from datasets import Dataset
    from trl.trainer.dpo_config import DPOConfig
    from trl.trainer.dpo_trainer import DPOTrainer

    args = DPOConfig(
        **trainer_kwargs(cfg, output_dir=output_dir, device=device, bf16=bf16, has_eval=bool(eval_rows)),
        max_length=cfg.training.max_seq_length,
        beta=cfg.dpo.beta,
        loss_type=[cfg.dpo.loss_type],
    )
    trainer_cls = guarded(DPOTrainer)
    trainer = trainer_cls(
        model=model,
        ref_model=ref_model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=lora_config(cfg, model),
        callbacks=callbacks,
    )
    drop_default_printing(trainer)
    return trainer
