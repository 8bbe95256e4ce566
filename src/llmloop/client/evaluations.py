"""``client.evaluations``: stored evaluations, comparisons and gates, in-process or over ``/api/v1/evaluations``.

Running a suite (``run_suite``) generates with the model in this process and writes the local
store, so only the local client runs one; gating with a suite (``gate_suite``) goes both ways: a
server evaluates its registered models on the suite and checks the suite's gates.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.errors import InvalidInput, Unavailable
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
from llmloop.services.evaluate.suite import Suite, load_suite

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.services.evaluate.generation import Generator, ProgressFn

R = "evaluations:read"
ROUTES = [
    Route("evaluations.list", "GET", "/evaluations", R, EvaluationPage),
    Route("evaluations.compare", "POST", "/evaluations/compare", R, Comparison, CompareRequest),
    Route("evaluations.gate", "POST", "/evaluations/gate", R, GateVerdict, GateCheckRequest),
    Route(
        "evaluations.gate_suite",
        "POST",
        "/evaluations/gate-suite",
        "evaluations:write",
        GateVerdict,
        SuiteGate,
    ),
    Route("evaluations.get", "GET", "/evaluations/{evaluation_id}", R, Evaluation),
    Route("evaluations.examples", "GET", "/evaluations/{evaluation_id}/examples", R, ExamplePage),
    Route("evaluations.diff", "GET", "/evaluations/{evaluation_id}/diff/{candidate_id}", R, ExampleDiffPage),
]


class Evaluations(Protocol):
    def run_suite(
        self,
        suite: Suite | str | Path,
        *,
        model: str | Generator,
        project: str | None = None,
        limit: int | None = None,
        reuse: bool = False,
        progress: ProgressFn | None = None,
    ) -> Evaluation: ...
    def get_evaluation(self, evaluation_id: str) -> Evaluation: ...
    def list_evaluations(
        self,
        *,
        project: str | None = None,
        suite: str | None = None,
        model: str | None = None,
        status: str | None = None,
        limit: int = 50,
        page_token: str | None = None,
    ) -> EvaluationPage: ...
    def list_examples(
        self,
        evaluation_id: str,
        *,
        limit: int = 50,
        page_token: str | None = None,
        errors_only: bool = False,
        worst_first: str | None = None,
    ) -> ExamplePage: ...
    def compare(
        self, request: CompareRequest, *, report_dir: Path | None = None, judge: str | Generator | None = None
    ) -> Comparison: ...
    def diff_examples(
        self,
        baseline: str,
        candidate: str,
        *,
        key: str | None = None,
        outcome: DiffOutcome = "all",
        limit: int = 50,
        page_token: str | None = None,
    ) -> ExampleDiffPage: ...
    def check_gates(self, request: GateCheckRequest) -> GateVerdict: ...
    def gate_suite(
        self,
        suite: Suite | str | Path,
        *,
        candidate: str | Generator,
        baseline: str | Generator | None = None,
        project: str | None = None,
        allow_missing_baseline: bool = False,
        reuse: bool = True,
        progress: ProgressFn | None = None,
    ) -> GateVerdict: ...


class LocalEvaluations:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def run_suite(
        self,
        suite: Suite | str | Path,
        *,
        model: str | Generator,
        project: str | None = None,
        limit: int | None = None,
        reuse: bool = False,
        progress: ProgressFn | None = None,
    ) -> Evaluation:
        from llmloop.services.evaluate.service import run_suite

        loaded = suite if isinstance(suite, Suite) else load_suite(suite)
        return run_suite(
            self.ctx, suite=loaded, model=model, project=project, limit=limit, reuse=reuse, progress=progress
        )

    def get_evaluation(self, evaluation_id: str) -> Evaluation:
        from llmloop.services.evaluate import results

        return results.get_evaluation(self.ctx, evaluation_id=evaluation_id)

    def list_evaluations(
        self,
        *,
        project: str | None = None,
        suite: str | None = None,
        model: str | None = None,
        status: str | None = None,
        limit: int = 50,
        page_token: str | None = None,
    ) -> EvaluationPage:
        from llmloop.services.evaluate import results

        return results.list_evaluations(
            self.ctx,
            project=project,
            suite=suite,
            model=model,
            status=status,
            limit=limit,
            page_token=page_token,
        )

    def list_examples(
        self,
        evaluation_id: str,
        *,
        limit: int = 50,
        page_token: str | None = None,
        errors_only: bool = False,
        worst_first: str | None = None,
    ) -> ExamplePage:
        from llmloop.services.evaluate import results

        return results.list_examples(
            self.ctx,
            evaluation_id=evaluation_id,
            limit=limit,
            page_token=page_token,
            errors_only=errors_only,
            worst_first=worst_first,
        )

    def compare(
        self, request: CompareRequest, *, report_dir: Path | None = None, judge: str | Generator | None = None
    ) -> Comparison:
        from llmloop.services.evaluate.compare import CompareSettings, compare_evaluations

        return compare_evaluations(
            self.ctx,
            ids=request.ids,
            settings=CompareSettings(request.n_resamples, request.confidence, request.seed),
            report_dir=report_dir,
            write=request.report,
            judge=judge,
        )

    def diff_examples(
        self,
        baseline: str,
        candidate: str,
        *,
        key: str | None = None,
        outcome: DiffOutcome = "all",
        limit: int = 50,
        page_token: str | None = None,
    ) -> ExampleDiffPage:
        from llmloop.services.evaluate.compare import diff_examples

        return diff_examples(
            self.ctx,
            baseline=baseline,
            candidate=candidate,
            key=key,
            outcome=outcome,
            limit=limit,
            page_token=page_token,
        )

    def check_gates(self, request: GateCheckRequest) -> GateVerdict:
        from llmloop.services.evaluate.gates import check_gates

        return check_gates(
            self.ctx, rules=request.rules, candidate=request.candidate, baseline=request.baseline
        )

    def gate_suite(
        self,
        suite: Suite | str | Path,
        *,
        candidate: str | Generator,
        baseline: str | Generator | None = None,
        project: str | None = None,
        allow_missing_baseline: bool = False,
        reuse: bool = True,
        progress: ProgressFn | None = None,
    ) -> GateVerdict:
        from llmloop.services.evaluate.gates import gate_from_suite

        return gate_from_suite(
            self.ctx,
            suite=suite,
            candidate=candidate,
            baseline=baseline,
            project=project,
            allow_missing_baseline=allow_missing_baseline,
            reuse=reuse,
            progress=progress,
        )


class RemoteEvaluations:
    def __init__(self, http: Http) -> None:
        self.http = http

    def run_suite(
        self,
        suite: Suite | str | Path,
        *,
        model: str | Generator,
        project: str | None = None,
        limit: int | None = None,
        reuse: bool = False,
        progress: ProgressFn | None = None,
    ) -> Evaluation:
        raise Unavailable(
            "running an evaluation runs the model in this process and writes the local store; unset "
            "LLMLOOP_SERVER_URL (reading, comparing and gating with a suite work remotely)"
        )

    def get_evaluation(self, evaluation_id: str) -> Evaluation:
        out: Evaluation = self.http.call("evaluations.get", path={"evaluation_id": evaluation_id})
        return out

    def list_evaluations(
        self,
        *,
        project: str | None = None,
        suite: str | None = None,
        model: str | None = None,
        status: str | None = None,
        limit: int = 50,
        page_token: str | None = None,
    ) -> EvaluationPage:
        query = {
            "project": project,
            "suite": suite,
            "model": model,
            "status": status,
            "limit": limit,
            "page_token": page_token,
        }
        page: EvaluationPage = self.http.call("evaluations.list", query=query)
        return page

    def list_examples(
        self,
        evaluation_id: str,
        *,
        limit: int = 50,
        page_token: str | None = None,
        errors_only: bool = False,
        worst_first: str | None = None,
    ) -> ExamplePage:
        query = {
            "limit": limit,
            "page_token": page_token,
            "errors_only": errors_only,
            "worst_first": worst_first,
        }
        page: ExamplePage = self.http.call(
            "evaluations.examples", path={"evaluation_id": evaluation_id}, query=query
        )
        return page

    def compare(
        self, request: CompareRequest, *, report_dir: Path | None = None, judge: str | Generator | None = None
    ) -> Comparison:
        if judge is not None:
            raise Unavailable("pairwise judging runs the judge in this process; unset LLMLOOP_SERVER_URL")
        if report_dir is not None:
            raise Unavailable("a server writes the report in its own store; leave out the report folder")
        out: Comparison = self.http.call("evaluations.compare", body=request)
        return out

    def diff_examples(
        self,
        baseline: str,
        candidate: str,
        *,
        key: str | None = None,
        outcome: DiffOutcome = "all",
        limit: int = 50,
        page_token: str | None = None,
    ) -> ExampleDiffPage:
        query = {"key": key, "outcome": outcome, "limit": limit, "page_token": page_token}
        page: ExampleDiffPage = self.http.call(
            "evaluations.diff", path={"evaluation_id": baseline, "candidate_id": candidate}, query=query
        )
        return page

    def check_gates(self, request: GateCheckRequest) -> GateVerdict:
        out: GateVerdict = self.http.call("evaluations.gate", body=request)
        return out

    def gate_suite(
        self,
        suite: Suite | str | Path,
        *,
        candidate: str | Generator,
        baseline: str | Generator | None = None,
        project: str | None = None,
        allow_missing_baseline: bool = False,
        reuse: bool = True,
        progress: ProgressFn | None = None,
    ) -> GateVerdict:
        """The suite is read here (its errors name this machine's file); the server evaluates and gates."""
        for field, ref in (("candidate", candidate), ("baseline", baseline)):
            if ref is not None and not isinstance(ref, str):
                raise InvalidInput(
                    f"{field}: a server gates registered models by reference, not a Python callable",
                    details={"field": field},
                )
        assert isinstance(candidate, str) and (baseline is None or isinstance(baseline, str))
        request = SuiteGate(
            suite=suite if isinstance(suite, Suite) else load_suite(suite),
            candidate=candidate,
            baseline=baseline,
            project=project,
            allow_missing_baseline=allow_missing_baseline,
            reuse=reuse,
        )
        out: GateVerdict = self.http.call("evaluations.gate_suite", body=request)
        return out
