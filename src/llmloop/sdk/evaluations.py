"""``ll.evaluations``: run suites, read results, compare and gate, from Python and for the CLI.

    import llmloop as ll
    ev = ll.evaluations.run("examples/suites/instruction_sanity.yaml", model="travel@3")
    ev.metrics["exact_match"].score
    cmp = ll.evaluations.compare([base.id, ev.id])      # deltas with 95% CIs, report on disk
    verdict = ll.evaluations.gate("suite.yaml", candidate="travel@4", baseline="travel@champion")

Running an evaluation generates with the model in this process and writes to the local store;
with ``LLMLOOP_SERVER_URL`` set, reading, comparing and checking gates of stored evaluations go to
the server (``/api/v1/evaluations``), and running raises ``Unavailable``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from llmloop.config import get_settings
from llmloop.context import Context, local_context
from llmloop.errors import Unavailable
from llmloop.services.evaluate.generation import Generator, ProgressFn
from llmloop.services.evaluate.schemas import (
    CompareRequest,
    Comparison,
    Evaluation,
    EvaluationPage,
    ExamplePage,
    GateCheckRequest,
    GateVerdict,
)
from llmloop.services.evaluate.suite import GateSpec, Suite, load_suite

__all__ = ["check", "compare", "examples", "gate", "get", "list", "run"]


def _remote() -> Any | None:
    if not get_settings().server_url:
        return None
    from llmloop.sdk.remote import RemoteClient

    return RemoteClient(get_settings())


def _ctx() -> Context:
    return local_context()


def _suite(suite: Suite | str | Path) -> Suite:
    return suite if isinstance(suite, Suite) else load_suite(suite)


def _local_only(what: str) -> None:
    if get_settings().server_url:
        raise Unavailable(
            f"{what} runs the model in this process and writes the local store; unset LLMLOOP_SERVER_URL "
            "(reading, comparing and gate checks of stored evaluations work remotely)"
        )


def run(
    suite: Suite | str | Path,
    *,
    model: str | Generator,
    project: str | None = None,
    limit: int | None = None,
    reuse: bool = False,
    progress: ProgressFn | None = None,
) -> Evaluation:
    """Evaluate ``model`` (a reference, ``py:module:attr`` or a callable) on a suite."""
    _local_only("running an evaluation")
    from llmloop.services.evaluate.service import run_suite

    return run_suite(
        _ctx(), suite=_suite(suite), model=model, project=project, limit=limit, reuse=reuse, progress=progress
    )


def get(evaluation_id: str) -> Evaluation:
    remote = _remote()
    if remote is not None:
        return Evaluation.model_validate(remote._call("GET", f"/evaluations/{evaluation_id}"))
    from llmloop.services.evaluate.results import get_evaluation

    return get_evaluation(_ctx(), evaluation_id=evaluation_id)


def list(
    *,
    project: str | None = None,
    suite: str | None = None,
    model: str | None = None,
    status: str | None = None,
    limit: int = 50,
    page_token: str | None = None,
) -> EvaluationPage:
    remote = _remote()
    if remote is not None:
        params = {
            "project": project,
            "suite": suite,
            "model": model,
            "status": status,
            "limit": limit,
            "page_token": page_token,
        }
        data = remote._call("GET", "/evaluations", params={k: v for k, v in params.items() if v is not None})
        return EvaluationPage.model_validate(data)
    from llmloop.services.evaluate.results import list_evaluations

    return list_evaluations(
        _ctx(), project=project, suite=suite, model=model, status=status, limit=limit, page_token=page_token
    )


def examples(
    evaluation_id: str,
    *,
    limit: int = 50,
    page_token: str | None = None,
    errors_only: bool = False,
    worst_first: str | None = None,
) -> ExamplePage:
    remote = _remote()
    if remote is not None:
        params = {
            "limit": limit,
            "page_token": page_token,
            "errors_only": errors_only,
            "worst_first": worst_first,
        }
        data = remote._call(
            "GET",
            f"/evaluations/{evaluation_id}/examples",
            params={k: v for k, v in params.items() if v is not None},
        )
        return ExamplePage.model_validate(data)
    from llmloop.services.evaluate.results import list_examples

    return list_examples(
        _ctx(),
        evaluation_id=evaluation_id,
        limit=limit,
        page_token=page_token,
        errors_only=errors_only,
        worst_first=worst_first,
    )


def compare(
    ids: Any,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    report: bool = True,
    report_dir: str | Path | None = None,
    judge: str | Generator | None = None,
) -> Comparison:
    """Compare evaluations (the first is the baseline); with ``report``, write the Markdown/HTML report.

    With ``judge`` (a model reference or callable), answers are also judged pairwise in both orders.
    """
    request = CompareRequest(
        ids=[str(i) for i in ids], n_resamples=n_resamples, confidence=confidence, seed=seed, report=report
    )
    remote = _remote()
    if remote is not None:
        if judge is not None:
            raise Unavailable("pairwise judging runs the judge in this process; unset LLMLOOP_SERVER_URL")
        return Comparison.model_validate(
            remote._call("POST", "/evaluations/compare", content=request.model_dump_json())
        )
    from llmloop.services.evaluate.compare import CompareSettings, compare_evaluations

    return compare_evaluations(
        _ctx(),
        ids=request.ids,
        settings=CompareSettings(n_resamples, confidence, seed),
        report_dir=Path(report_dir) if report_dir is not None else None,
        write=report,
        judge=judge,
    )


def check(rules: Any, *, candidate: str, baseline: str | None = None) -> GateVerdict:
    """Check gate rules against stored evaluations (ids), without generating anything."""
    request = GateCheckRequest(
        rules=[r if isinstance(r, (str, GateSpec)) else GateSpec.model_validate(r) for r in rules],
        candidate=candidate,
        baseline=baseline,
    )
    remote = _remote()
    if remote is not None:
        return GateVerdict.model_validate(
            remote._call("POST", "/evaluations/gate", content=request.model_dump_json())
        )
    from llmloop.services.evaluate.gates import check_gates

    return check_gates(_ctx(), rules=request.rules, candidate=request.candidate, baseline=request.baseline)


def gate(
    suite: Suite | str | Path,
    *,
    candidate: str | Generator,
    baseline: str | Generator | None = None,
    project: str | None = None,
    allow_missing_baseline: bool = False,
    reuse: bool = True,
    progress: ProgressFn | None = None,
) -> GateVerdict:
    """Evaluate candidate and baseline on the suite (reusing stored identical evaluations) and check its gates."""
    _local_only("gating with a suite")
    from llmloop.services.evaluate.gates import gate_suite

    return gate_suite(
        _ctx(),
        suite=_suite(suite),
        candidate=candidate,
        baseline=baseline,
        project=project,
        allow_missing_baseline=allow_missing_baseline,
        reuse=reuse,
        progress=progress,
    )


evaluations = sys.modules[__name__]
