"""Supervised fine-tuning with TRL's SFTTrainer (+ PEFT LoRA, or full weights).

Rows arrive already shaped by ``data.sft_rows``: ``text`` (loss on every token), or
prompt → completion (TRL masks the prompt, so the loss is on the answer only; chats are split
that way per assistant turn), or ``messages`` (loss on the whole chat, when asked).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmloop.services.train.answer_loss import with_answer_only_loss
from llmloop.services.train.config import TrainConfig
from llmloop.services.train.device import Device
from llmloop.services.train.trainers import drop_default_printing, guarded, lora_config, trainer_kwargs


def build_sft_trainer(
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
) -> Any:
    from datasets import Dataset
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    t = cfg.training
    args = SFTConfig(
        **trainer_kwargs(cfg, output_dir=output_dir, device=device, bf16=bf16, has_eval=bool(eval_rows)),
        max_length=t.max_seq_length,
        packing=t.packing,
        completion_only_loss=None,  # TRL: on for prompt/completion rows, which is how we ask for answer-only loss
        dataset_num_proc=None,
    )
    trainer_cls = guarded(with_answer_only_loss(SFTTrainer))
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=lora_config(cfg, model),
        callbacks=callbacks,
    )
    drop_default_printing(trainer)
    return trainer
