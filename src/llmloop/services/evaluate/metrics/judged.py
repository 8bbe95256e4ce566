"""``llm_judge``: a judge model grades each answer against a rubric; scores become fractions 0-1.

Options: ``judge`` (a generator callable, or a model reference resolved through the model seam),
``rubric`` (text with ``{input}``, ``{prediction}``, ``{reference}``, ``{min}``, ``{max}``, or a
function returning chat messages; a suite may name a registered prompt instead), ``scale``
([min, max], default [1, 5]), ``params`` (judge generation parameters), ``batch_size``.
Unparseable judge answers are unscored and counted in ``details["unparsed"]``. The judge's text
for each answer is its rationale (``MetricResult.rationales``), stored with the example's scores
(clipped, see ``scoring.RATIONALE_CHARS``) so a low score can be read, not only seen.
"""

from __future__ import annotations

from typing import Any

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.judge import RubricRenderer, grade
from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult


class LlmJudge(Metric):
    """A judge model's rubric score for each answer, rescaled to 0-1."""

    name = "llm_judge"

    def __init__(
        self,
        *,
        judge: Any,
        rubric: str | RubricRenderer | None = None,
        scale: tuple[float, float] | list[float] = (1, 5),
        params: dict[str, Any] | None = None,
        batch_size: int = 8,
    ) -> None:
        if len(scale) != 2 or not scale[0] < scale[1]:
            raise InvalidInput(
                "llm_judge: scale must be [min, max] with min < max", details={"option": "scale"}
            )
        if not (callable(judge) or isinstance(judge, str)):
            raise InvalidInput(
                "llm_judge: judge must be a model reference or a callable", details={"option": "judge"}
            )
        self.judge, self.rubric = judge, rubric
        self.low, self.high = float(scale[0]), float(scale[1])
        self.params, self.batch_size = params, batch_size

    def compute(self, inputs: MetricInputs) -> MetricResult:
        judge = self.judge
        if isinstance(judge, str):
            from llmloop.context import local_context
            from llmloop.services.evaluate.seams import load_generator

            judge = load_generator(local_context(), judge).generate
        grades = grade(
            judge,
            inputs=inputs.inputs or [""] * len(inputs),
            predictions=inputs.predictions,
            references=[r[0] for r in inputs.references] if inputs.references else None,
            rubric=self.rubric,
            low=self.low,
            high=self.high,
            params=self.params,
            batch_size=self.batch_size,
        )
        span = self.high - self.low
        scores = [None if s is None else (s - self.low) / span for s in grades.scores]
        result = self.result_from_scores(
            scores,
            {
                "unparsed": grades.unparsed,
                "judge_errors": grades.judge_errors,
                "scale": [self.low, self.high],
                "raw_scores": grades.scores,
            },
        )
        result.rationales = list(grades.raw)
        return result
