"""``/evaluations``: results with confidence intervals and judge rationales, and comparisons with CIs,
p-values and the paired examples filtered to the candidate's wins, losses or ties."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from llmloop.errors import InvalidInput
from llmloop.server.ui.charts import Bar, bars
from llmloop.server.ui.render import View, page
from llmloop.services.evaluate.schemas import CompareRequest, DiffOutcome, Evaluation

router = APIRouter()


def metric_chart(evaluation: Evaluation) -> Any:
    """Each metric's score with its confidence interval as a whisker."""
    items = [
        Bar(key, m.score, m.ci_low, m.ci_high) for key, m in evaluation.metrics.items() if m.score is not None
    ]
    return bars(items, title=f"{evaluation.suite} on {evaluation.model_ref}")


@page(router, "/evaluations", "evaluations.html", "evaluations:read")
def evaluations(view: View, page_token: str | None = None) -> dict[str, Any]:
    found = view.client.evaluations.list_evaluations(project=view.project, limit=50, page_token=page_token)
    return {"evaluations": found}


@page(router, "/evaluations/compare", "evaluations_compare.html", "evaluations:read")
def compare(
    view: View,
    ids: list[str] = Query(default_factory=list),
    show: DiffOutcome | None = None,
    key: str | None = None,
    page_token: str | None = None,
) -> dict[str, Any]:
    """The first id is the baseline; each other is compared with it (paired bootstrap CI, p-values).

    With ``show`` (wins, losses, ties, all), each pair also lists its paired examples on metric
    ``key`` (default: the comparison's primary metric), largest change first. ``page_token`` pages
    one pair's listing, so it needs exactly two ids; each pair's next-page link narrows to that pair.
    """
    if len(ids) > 10:
        raise InvalidInput(f"compare 2 to 10 evaluations, got {len(ids)}", details={"field": "ids"})
    if page_token is not None and len(ids) != 2:
        raise InvalidInput("page_token pages one pair: give exactly two ids", details={"field": "page_token"})
    if len(ids) < 2:
        return {"comparison": None, "diffs": [], "show": show, "key": key}
    c = view.client.evaluations
    comparison = c.compare(CompareRequest(ids=ids, n_resamples=1000))
    diffs = (
        [
            c.diff_examples(
                p.baseline_id, p.candidate_id, key=key, outcome=show, limit=25, page_token=page_token
            )
            for p in comparison.pairs
        ]
        if show is not None
        else []
    )
    return {"comparison": comparison, "diffs": diffs, "show": show, "key": key}


def _charts(data: dict[str, Any]) -> dict[str, Any]:
    return {"chart": metric_chart(data["evaluation"])}


@page(router, "/evaluations/{evaluation_id}", "evaluation.html", "evaluations:read", extras=_charts)
def evaluation(
    view: View, evaluation_id: str, errors_only: bool = False, page_token: str | None = None
) -> dict[str, Any]:
    c = view.client.evaluations
    return {
        "evaluation": c.get_evaluation(evaluation_id),
        "examples": c.list_examples(evaluation_id, limit=25, page_token=page_token, errors_only=errors_only),
        "errors_only": errors_only,
    }
