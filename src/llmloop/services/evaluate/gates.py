"""Promotion gates: small rules over evaluations, checked for CI and for ``models promote``.

Three rule shapes (case-insensitive; METRIC is a metric key of the suite, or ``error_rate``):

    task_accuracy >= 0.6                     the corpus score against a threshold (>=, <=, >, <, ==)
    p95 latency <= 500ms                     a statistic of the per-example values: mean, min, max,
                                             p50, p90, p95, p99 (before or after the metric name)
    rougeL not worse than champion by more than 0.01 (95% CI)
                                             the CI of candidate - baseline on paired examples stays
                                             within the margin: lower bound >= -0.01 when higher is
                                             better, upper bound <= +0.01 when lower is better
    bleu better than baseline (95% CI)       the whole CI is on the better side of zero

Units: ``ms`` and ``s`` for metrics measured in milliseconds; ``%`` divides by 100 for 0-1 metrics.
The word after ``than`` only labels the baseline in messages: the baseline evaluation is what the
caller passes. A rule that compares with a baseline is ``skipped`` when there is none (the very first
promotion); a rule that cannot be read, or names a metric the evaluation lacks, is an error, not a
failure, so a typo can never pass or fail a release silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.evaluate.compare import CompareSettings, metric_delta, paired_indices
from llmloop.services.evaluate.generation import Generator, ProgressFn
from llmloop.services.evaluate.results import example_table
from llmloop.services.evaluate.schemas import GateResult, GateVerdict, MetricAggregate, SuiteGate
from llmloop.services.evaluate.service import run_suite
from llmloop.services.evaluate.stats import percentile
from llmloop.services.evaluate.suite import GateSpec, Suite, load_suite
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate
from llmloop.store.tables.base import now

Op = Literal[">=", "<=", ">", "<", "=="]
STATS = ("mean", "min", "max", "p50", "p90", "p95", "p99")
ERROR_RATE = "error_rate"

_NUMBER = r"(?P<value>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%)?"
_METRIC = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_CONF = r"(?:\(\s*(?P<conf>\d+(?:\.\d+)?)\s*%\s*(?:ci|confidence)\s*\))?"
_ABSOLUTE = re.compile(
    rf"^(?:(?P<stat1>{'|'.join(STATS)})\s+)?(?P<metric>{_METRIC})(?:\s+(?P<stat2>{'|'.join(STATS)}))?"
    rf"\s*(?P<op>>=|<=|==|>|<)\s*{_NUMBER}$",
    re.IGNORECASE,
)
_NOT_WORSE = re.compile(
    rf"^(?P<metric>{_METRIC})\s+(?:is\s+)?not\s+worse\s+than\s+(?P<baseline>[\w@:.\-]+)\s+by\s+more\s+than\s+{_NUMBER}\s*{_CONF}$",
    re.IGNORECASE,
)
_BETTER = re.compile(
    rf"^(?P<metric>{_METRIC})\s+(?:is\s+)?better\s+than\s+(?P<baseline>[\w@:.\-]+)\s*{_CONF}$", re.IGNORECASE
)


@dataclass(frozen=True)
class Rule:
    """A parsed gate rule."""

    text: str
    kind: Literal["absolute", "not_worse", "better"]
    metric: str
    stat: str | None = None
    op: Op | None = None
    value: float = 0.0
    unit: str | None = None
    baseline: str | None = None
    confidence: float = 0.95

    @property
    def needs_baseline(self) -> bool:
        return self.kind != "absolute"


def parse_rule(text: str) -> Rule:
    """Parse one rule; InvalidInput says which shape was expected."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("empty gate rule", details={"rule": text})
    clean = " ".join(text.strip().split())
    m = _NOT_WORSE.match(clean)
    if m:
        return Rule(
            clean, "not_worse", m["metric"], value=float(m["value"]), unit=m["unit"], baseline=m["baseline"],
            confidence=_confidence(m["conf"], clean),
        )  # fmt: skip
    m = _BETTER.match(clean)
    if m:
        return Rule(
            clean, "better", m["metric"], baseline=m["baseline"], confidence=_confidence(m["conf"], clean)
        )
    m = _ABSOLUTE.match(clean)
    if m:
        if m["stat1"] and m["stat2"]:
            raise InvalidInput(f"gate rule {clean!r} names two statistics", details={"rule": clean})
        stat = (m["stat1"] or m["stat2"] or "").lower() or None
        op = cast(Op, m["op"])
        return Rule(clean, "absolute", m["metric"], stat=stat, op=op, value=float(m["value"]), unit=m["unit"])
    hint = _hint(clean)
    raise InvalidInput(
        f"cannot read gate rule {clean!r}: {hint}. Expected e.g. 'task_accuracy >= 0.6', 'p95 latency <= 500ms' "
        "or 'rougeL not worse than champion by more than 0.01 (95% CI)'",
        details={"rule": clean},
    )


def _hint(text: str) -> str:
    lowered = text.lower()
    if "not worse" in lowered and " by more than " not in lowered:
        return "a 'not worse than' rule needs 'by more than MARGIN'"
    if re.search(r"(>=|<=|==|>|<)\s*$", text):
        return "a number is missing after the comparison"
    if re.search(r"=>|=<|!=|(?<![<>=])=(?!=)", text):
        return "use one of >=, <=, >, <, =="
    if not re.search(r">=|<=|==|>|<|worse|better", lowered):
        return "no comparison found"
    return "the rule does not match any known shape"


def _confidence(raw: str | None, rule: str) -> float:
    if raw is None:
        return 0.95
    c = float(raw) / 100.0
    if not 0.5 <= c < 1.0:
        raise InvalidInput(
            f"gate rule {rule!r}: confidence must be between 50% and 99.9%", details={"rule": rule}
        )
    return c


def parse_rules(specs: Sequence[GateSpec | str]) -> list[tuple[Rule, bool]]:
    """Parse every rule up front, so one bad rule fails the whole check before any evaluation runs."""
    out = []
    for spec in specs:
        text, required = (spec, True) if isinstance(spec, str) else (spec.rule, spec.required)
        out.append((parse_rule(text), required))
    return out


def threshold(rule: Rule, scale: str) -> float:
    """The rule's number in the metric's own unit."""
    value, unit = rule.value, (rule.unit or "").lower()
    if unit in ("ms", "s"):
        if scale != "ms":
            raise InvalidInput(
                f"gate rule {rule.text!r}: '{unit}' only applies to a metric in milliseconds",
                details={"rule": rule.text},
            )
        return value * 1000.0 if unit == "s" else value
    if unit == "%":
        return value / 100.0 if scale == "fraction" else value
    return value


def _compare(observed: float, op: Op, limit: float) -> bool:
    return {
        ">=": observed >= limit,
        "<=": observed <= limit,
        ">": observed > limit,
        "<": observed < limit,
        "==": abs(observed - limit) <= 1e-12 * max(1.0, abs(limit)),
    }[op]


def observed_value(
    rule: Rule,
    aggregate: MetricAggregate | None,
    per_example: Sequence[float | None] | None,
    error_rate: float | None,
) -> float | None:
    """The number an absolute rule compares: the corpus score, or a statistic of per-example values."""
    if rule.metric == ERROR_RATE:
        return error_rate
    assert aggregate is not None
    if rule.stat in (None, "mean"):
        return aggregate.score
    values = [v for v in (per_example or []) if v is not None]
    if not values:
        return None
    if rule.stat == "min":
        return min(values)
    if rule.stat == "max":
        return max(values)
    return percentile(values, float(rule.stat[1:]))


def absolute_result(
    rule: Rule,
    required: bool,
    aggregate: MetricAggregate | None,
    per_example: Sequence[float | None] | None,
    error_rate: float | None,
) -> GateResult:
    scale = aggregate.scale if aggregate is not None else "fraction"
    limit = threshold(rule, scale)
    observed = observed_value(rule, aggregate, per_example, error_rate)
    assert rule.op is not None
    if observed is None:
        return GateResult(
            rule=rule.text,
            status="fail",
            required=required,
            threshold=limit,
            detail="no example could be scored",
        )
    ok = _compare(observed, rule.op, limit)
    what = f"{rule.stat} {rule.metric}" if rule.stat else rule.metric
    return GateResult(
        rule=rule.text,
        status="pass" if ok else "fail",
        required=required,
        observed=observed,
        threshold=limit,
        detail=f"{what} = {observed:.6g} {rule.op} {limit:.6g}" + ("" if ok else " is false"),
    )


def relative_result(
    rule: Rule,
    required: bool,
    aggregate: MetricAggregate,
    delta: float | None,
    low: float | None,
    high: float | None,
) -> GateResult:
    """Judge the CI of candidate - baseline (oriented so that positive means better when computing)."""
    hib = aggregate.higher_is_better
    if delta is None or low is None or high is None:
        return GateResult(
            rule=rule.text, status="fail", required=required, detail="no paired examples to compare"
        )
    pct = f"{rule.confidence * 100:g}% CI"
    ci = f"[{low:.4g}, {high:.4g}]"
    if rule.kind == "not_worse":
        margin = threshold(rule, aggregate.scale)
        bound, limit = (low, -margin) if hib else (high, margin)
        ok = bound >= limit if hib else bound <= limit
        side = "lower" if hib else "upper"
        detail = (
            f"delta {delta:+.4g}, {pct} {ci}: {side} bound {bound:+.4g} {'>=' if hib else '<='} {limit:+.4g}"
        )
        return GateResult(
            rule=rule.text, status="pass" if ok else "fail", required=required, observed=bound, threshold=limit,
            detail=detail + ("" if ok else " is false"),
        )  # fmt: skip
    ok = low > 0 if hib else high < 0
    bound = low if hib else high
    detail = f"delta {delta:+.4g}, {pct} {ci}: " + (
        "excludes 0 on the better side" if ok else "does not exclude 0 on the better side"
    )
    return GateResult(
        rule=rule.text,
        status="pass" if ok else "fail",
        required=required,
        observed=bound,
        threshold=0.0,
        detail=detail,
    )


def skipped(rule: Rule, required: bool, why: str) -> GateResult:
    return GateResult(rule=rule.text, status="skipped", required=required, detail=why)


# --- checking evaluations -------------------------------------------------------------------------


def check_gates(
    ctx: Context,
    *,
    rules: Sequence[GateSpec | str],
    candidate: str,
    baseline: str | None = None,
    settings: CompareSettings | None = None,
    record: bool = True,
) -> GateVerdict:
    """Judge a completed candidate evaluation (and optionally a baseline one) against ``rules``.

    Raises InvalidInput for unreadable rules, unknown metrics or evaluations that are not completed;
    returns a verdict (``passed`` False when a required rule fails) otherwise. With ``record``, the
    verdict is logged as a tracking run of kind ``gate`` (params, ``gate_passed`` metric, verdict artifact).
    """
    parsed = parse_rules(rules)
    if not parsed:
        raise InvalidInput("no gate rules to check; add 'gates:' to the suite", details={"key": "gates"})
    cand = example_table(ctx, evaluation_id=candidate)
    base = example_table(ctx, evaluation_id=baseline) if baseline is not None else None
    known = [*cand.evaluation.metrics, ERROR_RATE]
    for rule, _ in parsed:
        if rule.metric not in known:
            raise InvalidInput(
                f"gate rule {rule.text!r} names metric {rule.metric!r}, which evaluation {cand.evaluation.id[:12]} "
                f"does not have (metrics: {', '.join(known)})",
                details={"rule": rule.text, "metric": rule.metric},
            )
        if rule.needs_baseline and rule.metric == ERROR_RATE:
            raise InvalidInput(
                f"gate rule {rule.text!r}: error_rate takes only absolute rules", details={"rule": rule.text}
            )
    results: list[GateResult] = []
    for rule, required in parsed:
        if rule.kind == "absolute":
            agg = cand.evaluation.metrics.get(rule.metric)
            results.append(
                absolute_result(rule, required, agg, cand.scores.get(rule.metric), cand.evaluation.error_rate)
            )
        elif base is None:
            results.append(skipped(rule, required, "no baseline evaluation to compare with"))
        else:
            if rule.metric not in base.evaluation.metrics:
                raise InvalidInput(
                    f"gate rule {rule.text!r}: the baseline evaluation has no metric {rule.metric!r}",
                    details={"rule": rule.text},
                )
            s = settings or CompareSettings()
            ia, ib = paired_indices(base, cand)
            d = metric_delta(
                base, cand, rule.metric, ia, ib, CompareSettings(s.n_resamples, rule.confidence, s.seed)
            )
            results.append(
                relative_result(
                    rule, required, cand.evaluation.metrics[rule.metric], d.delta, d.ci_low, d.ci_high
                )
            )
    passed = all(r.status != "fail" for r in results if r.required)
    verdict = GateVerdict(
        passed=passed,
        suite=cand.evaluation.suite,
        candidate_evaluation_id=cand.evaluation.id,
        baseline_evaluation_id=base.evaluation.id if base is not None else None,
        results=results,
    )
    if record:
        _record(ctx, verdict, project=cand.evaluation.project)
    return verdict


def _record(ctx: Context, verdict: GateVerdict, *, project: str) -> None:
    run = tracking.create_run(
        ctx,
        spec=RunCreate(
            project=project,
            name=f"gate {verdict.suite}"[:256],
            kind="gate",
            params={
                "suite": verdict.suite,
                "candidate_evaluation": verdict.candidate_evaluation_id,
                "baseline_evaluation": verdict.baseline_evaluation_id or "-",
            },
            tags={"llmloop.gate": "pass" if verdict.passed else "fail"},
        ),
    )
    blob = ctx.artifacts.put_bytes(verdict.model_dump_json(indent=2).encode())
    tracking.record_artifact(ctx, run_id=run.id, name="verdict.json", sha256=blob.sha256, size=blob.size)
    tracking.log_batch(
        ctx,
        run_id=run.id,
        batch=RunBatch(
            metrics=[MetricPoint(key="gate_passed", value=float(verdict.passed), timestamp=now())],
            end_status="finished",
        ),
    )


def gate_suite(
    ctx: Context,
    *,
    suite: Suite,
    candidate: str | Generator,
    baseline: str | Generator | None = None,
    project: str | None = None,
    allow_missing_baseline: bool = False,
    reuse: bool = True,
    progress: ProgressFn | None = None,
) -> GateVerdict:
    """Evaluate candidate (and baseline) on ``suite`` (reusing identical completed evaluations), then check its gates.

    With ``allow_missing_baseline``, a baseline reference that does not resolve (no champion yet)
    skips the comparative rules instead of being an error.
    """
    rules = list(suite.gates)
    parse_rules(rules)  # a bad rule fails before any generation
    if not rules:
        raise InvalidInput(f"suite {suite.name!r} has no gates", details={"key": "gates"})
    cand = run_suite(ctx, suite=suite, model=candidate, project=project, reuse=reuse, progress=progress)
    base_id = None
    if baseline is not None:
        try:
            base_id = run_suite(
                ctx, suite=suite, model=baseline, project=project, reuse=reuse, progress=progress
            ).id
        except NotFound:
            if not allow_missing_baseline:
                raise
    return check_gates(ctx, rules=rules, candidate=cand.id, baseline=base_id)


def refuse_caller_files(request: SuiteGate) -> None:
    """Refuse a suite that names what only the caller's machine has: JSONL files or ``py:`` callables.

    A server runs a gate request with its own store and models; a file path or Python import path
    in it would be read or imported on the server, which is neither what the caller meant nor safe.
    """
    suite = request.suite
    paths = [("dataset.path", suite.dataset.path)]
    if suite.prompt is not None and suite.prompt.few_shot is not None:
        paths.append(("prompt.few_shot.path", suite.prompt.few_shot.path))
    for key, path in paths:
        if path is not None:
            raise InvalidInput(
                f"suite {suite.name!r}: {key} {path!r} is a file on your machine, which a server cannot read; "
                "register it as a dataset (llmloop data add) and name it with 'ref'",
                details={"key": key},
            )
    for field, ref in (("candidate", request.candidate), ("baseline", request.baseline)):
        if ref is not None and ref.startswith("py:"):
            raise InvalidInput(
                f"{field} {ref!r}: a server gates registered models only, not py: callables",
                details={"field": field},
            )


def gate_from_suite(
    ctx: Context,
    *,
    suite: Suite | str | Path,
    candidate: str | Generator,
    baseline: str | Generator | None = None,
    project: str | None = None,
    allow_missing_baseline: bool = False,
    reuse: bool = True,
    progress: ProgressFn | None = None,
) -> GateVerdict:
    """The gates of a suite (a ``Suite`` or its YAML file) checked on candidate against baseline.

    The one entry behind ``llmloop eval gate``, ``ll.evaluations.gate`` and
    ``POST /api/v1/evaluations/gate-suite``, so every door loads the suite and gates the same way.
    """
    loaded = suite if isinstance(suite, Suite) else load_suite(suite)
    return gate_suite(
        ctx,
        suite=loaded,
        candidate=candidate,
        baseline=baseline,
        project=project,
        allow_missing_baseline=allow_missing_baseline,
        reuse=reuse,
        progress=progress,
    )


def gates_for_promotion(
    ctx: Context,
    model_ref: str,
    *,
    suite: Suite | str | Path,
    baseline_ref: str | None = None,
    project: str | None = None,
) -> GateVerdict:
    """The hook ``llmloop models promote`` calls before moving an alias.

    Evaluates ``model_ref`` on ``suite`` (a Suite or a YAML path), compares it with ``baseline_ref``
    (typically ``NAME@champion``; when that alias does not exist yet the comparative rules are
    skipped) and returns the verdict. Stored evaluations of the same model version on the same suite
    and data are reused, so promoting right after ``llmloop eval gate`` does not evaluate twice.
    The caller refuses the promotion when ``verdict.passed`` is False unless forced (and audits the force).
    """
    return gate_from_suite(
        ctx,
        suite=suite,
        candidate=model_ref,
        baseline=baseline_ref,
        project=project,
        allow_missing_baseline=True,
    )


def promotion_gate(
    suite: Suite | str | Path, *, baseline_alias: str | None = "champion"
) -> Callable[[Context, Any], Any]:
    """A gate for ``llmloop.services.registry.service.promote_model(..., gates=[...])``.

    The registry calls ``gate(ctx, candidate_version)``; this evaluates ``NAME@VERSION`` on the suite,
    compares it with ``NAME@<baseline_alias>`` (skipped before the alias exists) and answers with the
    registry's ``GateResult``: passed, a one-line message, and the full verdict in ``details``.
    """
    loaded = load_suite(suite) if isinstance(suite, (str, Path)) else suite

    def gate(ctx: Context, candidate: Any) -> Any:
        from llmloop.services.registry import schemas

        baseline = f"{candidate.name}@{baseline_alias}" if baseline_alias else None
        if baseline is not None and baseline_alias in getattr(candidate, "aliases", []):
            baseline = None  # already the champion: nothing to compare with but itself
        verdict = gates_for_promotion(
            ctx, candidate.ref, suite=loaded, baseline_ref=baseline, project=candidate.project
        )
        failed = [r.rule for r in verdict.results if r.required and r.status == "fail"]
        message = "all required gates passed" if verdict.passed else "failed: " + "; ".join(failed)
        return schemas.GateResult(
            name=f"eval suite {verdict.suite}",
            passed=verdict.passed,
            message=message,
            details=verdict.model_dump(mode="json"),
        )

    return gate
