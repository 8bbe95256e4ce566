"""/api/v1/evaluations: stored evaluations, their examples, comparisons and their per-example diffs, gate
checks, and gating with a suite.

Running a single evaluation needs the model in the caller's process, so it is not an endpoint;
gating with a suite is (``gate-suite``): the server evaluates its registered models on the suite
and checks the suite's gates, the way ``llmloop models promote --gate`` does. A failed gate is a
200 whose verdict says ``passed: false``: a check that says no is a result, not an error.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.evaluate import gates, results
from llmloop.services.evaluate.compare import CompareSettings, compare_evaluations, diff_examples
from llmloop.services.evaluate.schemas import (
    CompareRequest,
    Comparison,
    DiffOutcome,
    Evaluation,
    EvaluationPage,
    ExampleDiffPage,
    ExamplePage,
    GateCheckRequest,
    GateVerdict,
    SuiteGate,
)

router = APIRouter(prefix="/evaluations", tags=["evaluations"])


@mount(router, "evaluations.list")
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


@mount(router, "evaluations.compare")
def compare(ctx: CtxDep, request: CompareRequest) -> Comparison:
    settings = CompareSettings(request.n_resamples, request.confidence, request.seed)
    return compare_evaluations(ctx, ids=request.ids, settings=settings, write=request.report)


@mount(router, "evaluations.gate")
def gate(ctx: CtxDep, request: GateCheckRequest) -> GateVerdict:
    return gates.check_gates(ctx, rules=request.rules, candidate=request.candidate, baseline=request.baseline)


@mount(router, "evaluations.gate_suite")
def gate_suite(ctx: CtxDep, request: SuiteGate) -> GateVerdict:
    gates.refuse_caller_files(request)
    return gates.gate_from_suite(
        ctx,
        suite=request.suite,
        candidate=request.candidate,
        baseline=request.baseline,
        project=request.project,
        allow_missing_baseline=request.allow_missing_baseline,
        reuse=request.reuse,
    )


@mount(router, "evaluations.get")
def get_evaluation(ctx: CtxDep, evaluation_id: str) -> Evaluation:
    return results.get_evaluation(ctx, evaluation_id=evaluation_id)


@mount(router, "evaluations.examples")
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


@mount(router, "evaluations.diff")
def diff(
    ctx: CtxDep,
    evaluation_id: str,
    candidate_id: str,
    key: str | None = Query(
        None, description="A metric key both share; default the comparison's primary metric."
    ),
    outcome: DiffOutcome = Query(
        "all", description="The candidate's wins, losses, ties, or all paired examples."
    ),
    limit: int = Query(50, ge=1, le=1000),
    page_token: str | None = None,
) -> ExampleDiffPage:
    """Paired examples of baseline ``evaluation_id`` vs ``candidate_id``, largest change first."""
    return diff_examples(
        ctx,
        baseline=evaluation_id,
        candidate=candidate_id,
        key=key,
        outcome=outcome,
        limit=limit,
        page_token=page_token,
    )
