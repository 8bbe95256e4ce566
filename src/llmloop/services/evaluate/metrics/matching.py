"""Exact match and token F1 after SQuAD normalisation, as fractions 0-1.

Normalisation (the official SQuAD v1.1 script): lowercase, drop punctuation, drop the articles
"a", "an", "the", collapse whitespace. With several references an example takes the best one.
"""

from __future__ import annotations

import re
import string
from collections import Counter

from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult

_PUNCT = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's ``normalize_answer``: lower, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def token_f1(prediction: str, reference: str) -> float:
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


class ExactMatch(Metric):
    """1 when the normalised prediction equals a normalised reference, else 0."""

    name = "exact_match"
    requires_references = True

    def compute(self, inputs: MetricInputs) -> MetricResult:
        self.check_inputs(inputs)
        assert inputs.references is not None
        scores = []
        for pred, refs in zip(inputs.predictions, inputs.references, strict=True):
            p = normalize_answer(pred)
            scores.append(float(any(p == normalize_answer(r) for r in refs)))
        return self.result_from_scores(scores)


class TokenF1(Metric):
    """Token-overlap F1 between the normalised prediction and the best reference (SQuAD)."""

    name = "token_f1"
    requires_references = True

    def compute(self, inputs: MetricInputs) -> MetricResult:
        self.check_inputs(inputs)
        assert inputs.references is not None
        scores = [
            max(token_f1(pred, r) for r in refs)
            for pred, refs in zip(inputs.predictions, inputs.references, strict=True)
        ]
        return self.result_from_scores(scores)
