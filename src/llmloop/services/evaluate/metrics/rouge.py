"""ROUGE-1, ROUGE-2 and ROUGE-L F-measure from rouge-score, as fractions 0-1.

Tokenization is rouge-score's own tokenizer (done once per text and shared by rouge1/2/L). The
scoring follows rouge-score's formulas, with two faster equivalents: n-grams are counted with
``Counter(zip(...))``, and the longest common subsequence uses the bit-parallel algorithm (Allison &
Dix 1986, Hyyrö 2004) instead of rouge-score's Python DP table, about ten times faster on
sentence-length texts. Tests check every score against ``RougeScorer`` on many random pairs. With
several references an example takes the best F-measure, like ``RougeScorer.score_multi``. The corpus
score is the mean F-measure.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists, bit-parallel over ``b``."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(b):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for tok in a:
        m = masks.get(tok)
        if m:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def _fmeasure(overlap: int, pred_count: int, target_count: int) -> float:
    precision = overlap / max(pred_count, 1)
    recall = overlap / max(target_count, 1)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


class _Rouge(Metric):
    requires_references = True
    rouge_type: ClassVar[str] = ""

    def __init__(self, *, use_stemmer: bool = False) -> None:
        self.use_stemmer = bool(use_stemmer)

    def _tokens(self, inputs: MetricInputs) -> tuple[list[list[str]], list[list[list[str]]]]:
        key = ("rouge-tokens", self.use_stemmer)
        cached = inputs.cache.get(key)
        if cached is None:
            from rouge_score.tokenizers import DefaultTokenizer

            tok = DefaultTokenizer(use_stemmer=self.use_stemmer)
            assert inputs.references is not None
            memo: dict[str, list[str]] = {}

            def tokenize(text: str) -> list[str]:
                out = memo.get(text)
                if out is None:
                    out = memo[text] = tok.tokenize(text)
                return out

            preds = [tokenize(p) for p in inputs.predictions]
            refs = [[tokenize(r) for r in rs] for rs in inputs.references]
            cached = inputs.cache[key] = (preds, refs)
        result: tuple[list[list[str]], list[list[list[str]]]] = cached
        return result

    def _score(self, pred: list[str], target: list[str]) -> float:
        raise NotImplementedError

    def compute(self, inputs: MetricInputs) -> MetricResult:
        self.check_inputs(inputs)
        preds, refs = self._tokens(inputs)
        scores = [max(self._score(p, t) for t in ts) for p, ts in zip(preds, refs, strict=True)]
        return self.result_from_scores(scores, {"use_stemmer": self.use_stemmer})


class _RougeN(_Rouge):
    n: ClassVar[int] = 1

    def _score(self, pred: list[str], target: list[str]) -> float:
        n = self.n
        p = Counter(zip(*(pred[i:] for i in range(n)), strict=False))
        t = Counter(zip(*(target[i:] for i in range(n)), strict=False))
        overlap = sum((p & t).values())
        return _fmeasure(overlap, max(len(pred) - n + 1, 0), max(len(target) - n + 1, 0))


class Rouge1(_RougeN):
    """ROUGE-1 F-measure (unigram overlap, rouge-score), 0-1."""

    name = "rouge1"
    n = 1


class Rouge2(_RougeN):
    """ROUGE-2 F-measure (bigram overlap, rouge-score), 0-1."""

    name = "rouge2"
    n = 2


class RougeL(_Rouge):
    """ROUGE-L F-measure (longest common subsequence, rouge-score tokens), 0-1."""

    name = "rougeL"

    def _score(self, pred: list[str], target: list[str]) -> float:
        if not pred or not target:
            return 0.0
        return _fmeasure(lcs_length(target, pred), len(pred), len(target))
