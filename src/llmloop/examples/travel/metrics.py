"""The travel example's task metrics, registered under ``llmloop.metrics`` by this package's entry points.

They live with the example, not in the core metrics: a core metric never depends on a demo app.
"""

from __future__ import annotations

from typing import Any, ClassVar

from llmloop.examples.travel import scoring
from llmloop.services.evaluate.metrics.task import TaskMetric


class _TravelMetric(TaskMetric):
    """A scorer of ``llmloop.examples.travel.scoring`` over each row's metadata."""

    parameters = ("metadata",)
    scorer_name: ClassVar[str] = ""

    def __init__(self) -> None:
        self._scorer = getattr(scoring, self.scorer_name)

    def score_one(self, prediction: str, **kwargs: Any) -> Any:
        return self._scorer(prediction, kwargs["metadata"])


class TravelRecommendationCorrectness(_TravelMetric):
    """1 when the recommended destination meets every stated wish (the travel example's rule-based ground truth)."""

    name = "travel_recommendation_correctness"
    scorer_name = "recommendation_correct"


class TravelConstraintSatisfaction(_TravelMetric):
    """Fraction of the traveller's stated constraints the recommended destination meets (partial credit)."""

    name = "travel_constraint_satisfaction"
    scorer_name = "constraint_satisfaction"
