"""The SFT loss computed at the answer positions only, for devices without Triton.

TRL's fused LM head scores only the labelled positions when Triton is there (CUDA); everywhere
else it scores every position of the batch, in vocabulary tiles, in fp32, with the entropy, and
converts the head's weight to the compute dtype tile by tile in the forward and again in the
backward. On this project's 2-core CPU that head was 48% of a step (py-spy, SmolLM2-135M, batch 8
x ~80 tokens of which ~5 a row are the answer). Here the backbone runs as usual, and the head runs
on the answer positions alone: the same loss, summed and divided the way TRL divides it, so
gradient accumulation and ``num_items_in_batch`` behave exactly as before.

Models whose logits are scaled or soft-capped after the head (Gemma 2, Granite, Cohere …) keep
TRL's path, which knows those transforms.
"""

from __future__ import annotations

from typing import Any

# Config attributes that change the logits after the LM head (TRL's list in add_fused_lm_head).
LOGIT_TRANSFORMS = (
    "final_logit_softcapping",
    "logit_scale",
    "output_multiplier",
    "lm_head_multiplier",
    "logits_scaling",
)


def applies(trainer: Any, model: Any, inputs: dict[str, Any]) -> bool:
    """Whether the answer-only head gives the loss TRL would: plain next-token NLL, no label
    smoothing, no custom or auxiliary loss, labels present, an unscaled head, and no Triton (where
    TRL already scores only the answers)."""
    labels = inputs.get("labels")
    if labels is None or labels.device.type == "cuda":  # CUDA torch ships Triton
        return False
    from torch.nn.parallel import DistributedDataParallel

    if isinstance(model, DistributedDataParallel):  # data-parallel: DDP arms its gradient all-reduce
        return False  # in its own forward, which the head below would step around (ranks would drift)
    if trainer.compute_loss_func is not None or trainer.label_smoother is not None:
        return False
    if getattr(trainer, "aux_loss_enabled", False) or getattr(trainer.args, "loss_type", "nll") != "nll":
        return False
    text_config = _causal_lm(model).config.get_text_config()
    return all(getattr(text_config, name, None) is None for name in LOGIT_TRANSFORMS)


def answer_only_loss(
    model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None
) -> tuple[Any, dict[str, float]]:
    """(loss, metrics): the mean NLL of the labelled next tokens, and the answer tokens' top-1
    accuracy and entropy, which TRL logs as ``mean_token_accuracy`` and ``entropy``."""
    import torch
    import torch.nn.functional as F

    causal = _causal_lm(model)
    labels = inputs["labels"]
    features = {k: v for k, v in inputs.items() if k not in ("labels", "use_cache")}
    hidden = causal.base_model(**features, use_cache=False).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    mask = targets != -100
    head = causal.get_output_embeddings()
    logits = head(hidden[mask]).float()
    picked = targets[mask]
    loss_sum = F.cross_entropy(logits, picked, reduction="sum")
    count = mask.sum() if num_items_in_batch is None else num_items_in_batch
    loss = loss_sum / torch.as_tensor(count, device=loss_sum.device).clamp(min=1)
    with torch.no_grad():
        n = max(1, int(picked.numel()))
        log_p = logits.log_softmax(-1)
        metrics = {
            "mean_token_accuracy": float((logits.argmax(-1) == picked).sum()) / n,
            "entropy": float(-(log_p.exp() * log_p).sum(-1).sum()) / n,
        }
    return loss, metrics


def with_answer_only_loss(trainer_cls: type) -> type:
    """A subclass of TRL's SFTTrainer whose ``compute_loss`` takes the answer-only head where it
    ``applies`` and TRL's own path elsewhere, logging the same metrics either way."""

    class AnswerOnly(trainer_cls):  # type: ignore[misc]
        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            if return_outputs or not applies(self, model, inputs):
                return super().compute_loss(
                    model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
                )
            loss, metrics = answer_only_loss(model, inputs, num_items_in_batch)
            mode = "train" if self.model.training else "eval"
            for key, value in metrics.items():
                self._metrics[mode][key].append(value)
            if mode == "train" and "attention_mask" in inputs:
                self._total_train_tokens += int(inputs["attention_mask"].sum())
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

    AnswerOnly.__name__ = AnswerOnly.__qualname__ = f"AnswerOnly{trainer_cls.__name__}"
    return AnswerOnly


def _causal_lm(model: Any) -> Any:
    """The transformers causal LM inside a PEFT wrapper (LoRA layers are injected in place, so
    calling its backbone still runs the adapters)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model
