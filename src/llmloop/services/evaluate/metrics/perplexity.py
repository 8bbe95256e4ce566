"""Perplexity of a causal language model (transformers) on a list of texts.

``model`` is a local Hugging Face folder (loaded once and cached) or an already-loaded model, with
``tokenizer`` beside it. By default the texts are the predictions; ``on: references`` scores the
(first) references instead, e.g. a model's perplexity on held-out answers.

Per example: exp(mean token negative log-likelihood). Corpus: exp(total NLL / total tokens), the
usual pooled perplexity, so each example's statistics are (NLL sum, predicted tokens). Lower is
better. Texts shorter than two tokens predict nothing and are left unscored.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.evaluate.metrics.base import FloatArray, Metric, MetricInputs, MetricResult


@functools.lru_cache(maxsize=2)
def _load(path: str) -> tuple[Any, Any]:
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise Unavailable("perplexity needs: pip install 'llmloop[train]'") from e
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    model.eval()
    return model, tokenizer


class Perplexity(Metric):
    """Perplexity of a transformers causal LM on the answers (or references); lower is better."""

    name = "perplexity"
    higher_is_better = False
    scale = "ratio"

    def __init__(
        self,
        *,
        model: Any,
        tokenizer: Any = None,
        on: str = "predictions",
        batch_size: int = 8,
        max_length: int = 1024,
    ) -> None:
        if on not in ("predictions", "references"):
            raise InvalidInput("perplexity: 'on' must be predictions or references", details={"option": "on"})
        if isinstance(model, (str, Path)):
            if not Path(model).is_dir():
                raise InvalidInput(f"perplexity: model folder {model} not found", details={"option": "model"})
        elif tokenizer is None:
            raise InvalidInput(
                "perplexity: a loaded model needs its tokenizer", details={"option": "tokenizer"}
            )
        if batch_size < 1 or max_length < 2:
            raise InvalidInput(
                "perplexity: batch_size >= 1 and max_length >= 2", details={"option": "batch_size"}
            )
        self.model, self.tokenizer = model, tokenizer
        self.on, self.batch_size, self.max_length = on, batch_size, max_length

    def _texts(self, inputs: MetricInputs) -> list[str]:
        if self.on == "predictions":
            return inputs.predictions
        if inputs.references is None:
            raise InvalidInput("perplexity on references needs references", details={"metric": self.name})
        return [refs[0] for refs in inputs.references]

    def compute(self, inputs: MetricInputs) -> MetricResult:
        import torch

        if isinstance(self.model, (str, Path)):
            model, tokenizer = _load(str(self.model))
        else:
            model, tokenizer = self.model, self.tokenizer
        texts = self._texts(inputs)
        stats = np.zeros((len(texts), 2))
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            ids = [
                list(tokenizer(t, truncation=True, max_length=self.max_length)["input_ids"]) for t in chunk
            ]
            width = max((len(x) for x in ids), default=0)
            if width < 2:
                continue
            input_ids = torch.zeros((len(ids), width), dtype=torch.long)
            mask = torch.zeros((len(ids), width), dtype=torch.long)
            for i, x in enumerate(ids):
                input_ids[i, : len(x)] = torch.tensor(x, dtype=torch.long)
                mask[i, : len(x)] = 1
            with torch.no_grad():
                logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), input_ids[:, 1:].reshape(-1), reduction="none"
            ).reshape(len(ids), width - 1)
            keep = mask[:, 1:].float()
            stats[start : start + len(ids), 0] = (nll * keep).sum(dim=1).numpy()
            stats[start : start + len(ids), 1] = keep.sum(dim=1).numpy()
        per_example = [math.exp(s / n) if n > 0 else None for s, n in stats]
        total_nll, total_tokens = stats.sum(axis=0)
        return MetricResult(
            name=self.name,
            score=math.exp(total_nll / total_tokens) if total_tokens > 0 else None,
            per_example=per_example,
            details={"tokens": int(total_tokens), "unscored": sum(v is None for v in per_example)},
            stats=stats.tolist(),
            higher_is_better=False,
        )

    def corpus_from_stats(self, sums: FloatArray, n: int) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out: FloatArray = np.exp(sums[:, 0] / sums[:, 1])
        return out
