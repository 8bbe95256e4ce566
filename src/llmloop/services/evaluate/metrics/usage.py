"""What an answer cost: latency, output tokens and money. Lower is better for all three.

Values come from the generation step (the engine's usage report and the wall time of the call
that produced the answer; in batched generation every answer of a batch carries that batch's
time, which is what a caller of the batch waited). Examples without a value (an engine that
reports no token counts) are left unscored rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult

PERCENTILES = (50, 90, 95, 99)


def percentile_details(values: Sequence[float | None]) -> dict[str, float | None]:
    present = np.array([v for v in values if v is not None], dtype=float)
    out: dict[str, float | None] = {}
    for q in PERCENTILES:
        out[f"p{q}"] = float(np.percentile(present, q)) if present.size else None
    out["max"] = float(present.max()) if present.size else None
    return out


class Latency(Metric):
    """Milliseconds until the answer was available; corpus: mean, with p50/p90/p95/p99 in details."""

    name = "latency"
    higher_is_better = False
    scale = "ms"

    def compute(self, inputs: MetricInputs) -> MetricResult:
        values = inputs.latencies_ms or [None] * len(inputs)
        return self.result_from_scores(values, percentile_details(values))


class OutputTokens(Metric):
    """Completion tokens per answer, as the engine reported them."""

    name = "output_tokens"
    higher_is_better = False
    scale = "tokens"

    def compute(self, inputs: MetricInputs) -> MetricResult:
        values = [None if v is None else float(v) for v in (inputs.completion_tokens or [None] * len(inputs))]
        return self.result_from_scores(values, percentile_details(values))


class TokenCost(Metric):
    """Price per answer: prompt tokens x ``input_per_1k`` / 1000 + completion tokens x ``output_per_1k`` / 1000."""

    name = "token_cost"
    higher_is_better = False
    scale = "cost"

    def __init__(
        self, *, input_per_1k: float = 0.0, output_per_1k: float = 0.0, currency: str = "USD"
    ) -> None:
        if input_per_1k < 0 or output_per_1k < 0 or input_per_1k + output_per_1k == 0:
            raise InvalidInput(
                "token_cost needs prices: input_per_1k and/or output_per_1k > 0",
                details={"option": "input_per_1k"},
            )
        self.input_per_1k, self.output_per_1k, self.currency = input_per_1k, output_per_1k, currency

    def compute(self, inputs: MetricInputs) -> MetricResult:
        n = len(inputs)
        prompt = inputs.prompt_tokens or [None] * n
        completion = inputs.completion_tokens or [None] * n
        values: list[float | None] = []
        for p, c in zip(prompt, completion, strict=True):
            if p is None or c is None:
                values.append(None)
            else:
                values.append((p * self.input_per_1k + c * self.output_per_1k) / 1000.0)
        total = sum(v for v in values if v is not None)
        return self.result_from_scores(values, {"currency": self.currency, "total": total})
