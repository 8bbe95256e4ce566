"""``ll.evaluations``: run suites, read results, compare and gate, from Python and for the CLI.

    import llmloop as ll
    ev = ll.evaluations.run("examples/suites/instruction_sanity.yaml", model="travel@3", progress=True)
    ev.metrics["exact_match"].score
    cmp = ll.evaluations.compare([base.id, ev.id])      # deltas with 95% CIs, report on disk
    lost = ll.evaluations.diff(base.id, ev.id, outcome="losses")  # every example the candidate lost
    verdict = ll.evaluations.gate("suite.yaml", candidate="travel@4", baseline="travel@champion")

Every verb goes through ``llmloop.client.get_client().evaluations``: the local store, or with
``LLMLOOP_SERVER_URL`` set, the server's ``/api/v1/evaluations``. Running one evaluation generates
with the model in this process, so it is local only; gating with a suite works both ways.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmloop.sdk.progress import Progress, reporting
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
)
from llmloop.services.evaluate.suite import GateSpec, Suite

if TYPE_CHECKING:
    from llmloop.client.evaluations import Evaluations
    from llmloop.services.evaluate.generation import Generator

__all__ = ["check", "compare", "diff", "examples", "gate", "get", "list", "run"]


def _api() -> Evaluations:
    from llmloop.client import get_client

    return get_client().evaluations


def run(
    suite: Suite | str | Path,
    *,
    model: str | Generator,
    project: str | None = None,
    limit: int | None = None,
    reuse: bool = False,
    progress: Progress = None,
) -> Evaluation:
    """Evaluate ``model`` (a reference, ``py:module:attr`` or a callable) on a suite.

    ``progress=True`` shows a bar with ETA on a terminal (plain lines every 10% elsewhere) on
    stderr; a callable is called as ``progress(done, total)`` after each batch, ``(0, total)`` first.
    """
    with reporting(progress) as report:
        return _api().run_suite(
            suite, model=model, project=project, limit=limit, reuse=reuse, progress=report
        )


def get(evaluation_id: str) -> Evaluation:
    return _api().get_evaluation(evaluation_id)


def list(
    *,
    project: str | None = None,
    suite: str | None = None,
    model: str | None = None,
    status: str | None = None,
    limit: int = 50,
    page_token: str | None = None,
) -> EvaluationPage:
    return _api().list_evaluations(
        project=project, suite=suite, model=model, status=status, limit=limit, page_token=page_token
    )


def examples(
    evaluation_id: str,
    *,
    limit: int = 50,
    page_token: str | None = None,
    errors_only: bool = False,
    worst_first: str | None = None,
) -> ExamplePage:
    return _api().list_examples(
        evaluation_id, limit=limit, page_token=page_token, errors_only=errors_only, worst_first=worst_first
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
    return _api().compare(
        request, report_dir=Path(report_dir) if report_dir is not None else None, judge=judge
    )


def diff(
    baseline: str,
    candidate: str,
    *,
    key: str | None = None,
    outcome: DiffOutcome = "all",
    limit: int = 50,
    page_token: str | None = None,
) -> ExampleDiffPage:
    """The paired examples where the candidate wins, loses or ties on ``key``, largest change first."""
    return _api().diff_examples(
        baseline, candidate, key=key, outcome=outcome, limit=limit, page_token=page_token
    )


def check(rules: Any, *, candidate: str, baseline: str | None = None) -> GateVerdict:
    """Check gate rules against stored evaluations (ids), without generating anything."""
    request = GateCheckRequest(
        rules=[r if isinstance(r, (str, GateSpec)) else GateSpec.model_validate(r) for r in rules],
        candidate=candidate,
        baseline=baseline,
    )
    return _api().check_gates(request)


def gate(
    suite: Suite | str | Path,
    *,
    candidate: str | Generator,
    baseline: str | Generator | None = None,
    project: str | None = None,
    allow_missing_baseline: bool = False,
    reuse: bool = True,
    progress: Progress = None,
) -> GateVerdict:
    """Evaluate candidate and baseline on the suite (reusing stored identical evaluations) and check its
    gates; ``progress`` as in ``run`` (one bar per evaluation)."""
    with reporting(progress) as report:
        return _api().gate_suite(
            suite,
            candidate=candidate,
            baseline=baseline,
            project=project,
            allow_missing_baseline=allow_missing_baseline,
            reuse=reuse,
            progress=report,
        )


evaluations = sys.modules[__name__]
