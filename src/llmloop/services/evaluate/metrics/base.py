"""The one metric interface: per-example scores, a corpus score, and the statistics behind both.

Every metric (built-in, task metric, plugin) is a ``Metric`` subclass constructed with its options
(``Regex(pattern="^\\w+$")``) and called with ``MetricInputs``. It returns a ``MetricResult``.

Why per-example *statistics* and not only per-example scores: some corpus scores are not the mean of
sentence scores (corpus BLEU sums n-gram counts over the corpus; perplexity pools token log-likelihoods).
A metric therefore reports, per example, a small vector of statistics whose sum over any sample of
n examples determines the corpus score of that sample (``corpus_from_stats(sums, n)``). Bootstrap
confidence intervals and paired tests resample those vectors, so the interval is around the number
the report shows, not around a look-alike. Sums, not means: BLEU's smoothing depends on absolute
counts. For plain averaged metrics the statistic is the score itself and the corpus is sum / n.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from llmloop.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]


@dataclass
class MetricInputs:
    """What one evaluation hands every metric; only ``predictions`` is always present.

    ``references`` hold one or more reference strings per example. ``inputs`` are the rendered
    prompts as text (for judges). ``cache`` is shared by the metrics of one call so related
    metrics (rouge1/rouge2/rougeL) tokenize each text once.
    """

    predictions: list[str]
    references: list[list[str]] | None = None
    inputs: list[str] | None = None
    metadata: list[dict[str, Any]] | None = None
    latencies_ms: list[float | None] | None = None
    prompt_tokens: list[int | None] | None = None
    completion_tokens: list[int | None] | None = None
    cache: dict[Any, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.predictions)
        for name in (
            "references",
            "inputs",
            "metadata",
            "latencies_ms",
            "prompt_tokens",
            "completion_tokens",
        ):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise InvalidInput(
                    f"{name} has {len(value)} items but there are {n} predictions",
                    details={"field": name},
                )

    def __len__(self) -> int:
        return len(self.predictions)


@dataclass
class MetricResult:
    """A metric's answer: ``score`` for the corpus, ``per_example`` aligned with the predictions.

    ``per_example[i]`` is None when example i could not be scored (a judge answered garbage, an
    example has no latency); such examples are left out of the corpus score and counted in
    ``details["unscored"]``. ``score`` is None only when no example could be scored.
    ``stats`` (n x k) are the per-example statistics described in the module docstring.
    ``rationales[i]`` is the text a judge gave for example i's score (None for metrics that do not
    explain themselves), kept so a reader can see *why* an answer scored low, not only that it did.
    """

    name: str
    score: float | None
    per_example: list[float | None]
    details: dict[str, Any] = field(default_factory=dict)
    stats: list[list[float]] | None = None
    higher_is_better: bool = True
    rationales: list[str | None] | None = None

    def __getitem__(self, key: str) -> Any:
        if key == "score":
            return self.score
        if key == "per_example":
            return self.per_example
        if key in self.details:
            return self.details[key]
        raise KeyError(key)

    def keys(self) -> list[str]:
        return ["score", "per_example", *self.details]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "per_example": self.per_example,
            "details": self.details,
            "higher_is_better": self.higher_is_better,
        }


class Metric(ABC):
    """Base of every metric. Subclasses set the class attributes and implement ``compute``.

    ``options`` are checked in ``__init__`` (bad options fail before any generation starts).
    ``scale`` says how to read the number: ``fraction`` (0-1), ``percent`` (0-100, sacrebleu),
    ``ms``, ``tokens``, ``cost``, ``ratio`` (perplexity, unbounded).
    """

    name: ClassVar[str] = ""
    requires_references: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    scale: ClassVar[str] = "fraction"
    description: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        if options:
            raise InvalidInput(
                f"metric {self.name!r} takes no options, got {sorted(options)}",
                details={"metric": self.name, "options": sorted(options)},
            )

    @abstractmethod
    def compute(self, inputs: MetricInputs) -> MetricResult:
        """Score every example and the corpus."""

    def corpus_from_stats(self, sums: FloatArray, n: int) -> FloatArray:
        """Corpus score(s) from statistics summed over samples of n examples, (B, k) -> (B,). Default: the mean."""
        return sums[:, 0] / n

    def check_inputs(self, inputs: MetricInputs) -> None:
        if self.requires_references and inputs.references is None:
            raise InvalidInput(
                f"metric {self.name!r} needs references, and none were given",
                details={"metric": self.name},
            )

    def result_from_scores(
        self, per_example: Sequence[float | None], details: Mapping[str, Any] | None = None
    ) -> MetricResult:
        """The result of a metric whose corpus score is the mean of its per-example scores."""
        values = [None if v is None or math.isnan(v) else float(v) for v in per_example]
        scored = [v for v in values if v is not None]
        out_details = dict(details or {})
        out_details["unscored"] = len(values) - len(scored)
        return MetricResult(
            name=self.name,
            score=float(np.mean(scored)) if scored else None,
            per_example=values,
            details=out_details,
            higher_is_better=self.higher_is_better,
        )


def normalize_references(references: Sequence[str | Sequence[str]] | None) -> list[list[str]] | None:
    """Normalise references to one list of strings per example (a bare string is one reference)."""
    if references is None:
        return None
    out: list[list[str]] = []
    for i, ref in enumerate(references):
        if isinstance(ref, str):
            out.append([ref])
        elif isinstance(ref, Sequence) and ref and all(isinstance(r, str) for r in ref):
            out.append(list(ref))
        else:
            raise InvalidInput(
                f"reference {i} must be a string or a non-empty list of strings, got {type(ref).__name__}",
                details={"field": "references", "index": i},
            )
    return out
