"""/api/v1/evaluations: stored evaluations, their examples, comparisons and gate checks.

Running an evaluation needs the model in the caller's process, so it is not an endpoint; these
routes read results and compute comparisons and verdicts from them. A failed gate is a 200 whose
verdict says ``passed: false``: a check that says no is a result, not an error.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep
from llmloop.services.evaluate import results
from llmloop.services.evaluate.compare import CompareSettings, compare_evaluations
from llmloop.services.evaluate.gates import check_gates
from llmloop.services.evaluate.schemas import (
    CompareRequest,
    Comparison,
    Evaluation,
    EvaluationPage,
    ExamplePage,
    GateCheckRequest,
    GateVerdict,
)

router = APIRouter(prefix="/evaluations", tags=["evaluations"])


@router.get("", response_model=EvaluationPage, openapi_extra=permission("evaluations:read"))
def list_evaluations(
    ctx: CtxDep,
    project: str | None = None,
    suite: str | None = None,
    model: str | None = None,
    status: str | None = Query(None, pattern="^(running|completed|failed)$"),
    limit: int = Query(50, ge=1, le=1000),
    page_token: str | None = None,
) -> EvaluationPage:
    return results.list_evaluations(
        ctx, project=project, suite=suite, model=model, status=status, limit=limit, page_token=page_token
    )


@router.post("/compare", response_model=Comparison, openapi_extra=permission("evaluations:read"))
def compare(ctx: CtxDep, request: CompareRequest) -> Comparison:
    settings = CompareSettings(request.n_resamples, request.confidence, request.seed)
    return compare_evaluations(ctx, ids=request.ids, settings=settings, write=request.report)


@router.post("/gate", response_model=GateVerdict, openapi_extra=permission("evaluations:read"))
def gate(ctx: CtxDep, request: GateCheckRequest) -> GateVerdict:
    return check_gates(ctx, rules=request.rules, candidate=request.candidate, baseline=request.baseline)


@router.get("/{evaluation_id}", response_model=Evaluation, openapi_extra=permission("evaluations:read"))
def get_evaluation(ctx: CtxDep, evaluation_id: str) -> Evaluation:
    return results.get_evaluation(ctx, evaluation_id=evaluation_id)


@router.get(
    "/{evaluation_id}/examples", response_model=ExamplePage, openapi_extra=permission("evaluations:read")
)
def list_examples(
    ctx: CtxDep,
    evaluation_id: str,
    limit: int = Query(50, ge=1, le=1000),
    page_token: str | None = None,
    errors_only: bool = False,
    worst_first: str | None = Query(None, description="A metric key: sort by it, worst first."),
) -> ExamplePage:
    return results.list_examples(
        ctx,
        evaluation_id=evaluation_id,
        limit=limit,
        page_token=page_token,
        errors_only=errors_only,
        worst_first=worst_first,
    )
