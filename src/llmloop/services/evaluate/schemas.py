"""What users read and send about evaluations: the same Pydantic types for CLI, SDK and REST.

Suite files have their own schema in ``suite.py``; these are the stored results, comparisons and
gate verdicts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmloop.services.evaluate.suite import GateSpec, Suite

EvaluationStatus = Literal["running", "completed", "failed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, from_attributes=True)


class MetricAggregate(_Frozen):
    """One metric of an evaluation: corpus score and its bootstrap confidence interval."""

    key: str = Field(description="Name in this suite (the metric name unless the suite renamed it).")
    metric: str = Field(description="Registered metric name.")
    score: float | None = Field(description="Corpus score; None when no example could be scored.")
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float = 0.95
    n: int = Field(0, description="Examples that were scored.")
    higher_is_better: bool = True
    scale: str = "fraction"
    details: dict[str, Any] = Field(default_factory=dict)


class Evaluation(_Frozen):
    """A model x suite result; immutable once completed. Gates and comparisons read only completed ones."""

    id: str
    project: str
    suite: str
    suite_sha256: str
    model_ref: str
    model_version: str | None = Field(None, description="Registry id of the resolved model version, if any.")
    dataset_ref: str | None = None
    prompt_ref: str | None = None
    run_id: str | None = None
    status: EvaluationStatus
    error: str | None = None
    n_examples: int = 0
    n_errors: int = 0
    error_rate: float | None = None
    metrics: dict[str, MetricAggregate] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    completed_at: float | None = None
    created_by: str | None = None


class EvaluationPage(_Frozen):
    items: list[Evaluation]
    next_page_token: str | None = None


class EvaluationExample(_Frozen):
    """One example as evaluated: what went in, what came out, every metric's score and judges' reasons."""

    index: int
    example_id: str
    input: list[dict[str, str]]
    output: str | None
    reference: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    scores: dict[str, float | None] = Field(default_factory=dict)
    rationales: dict[str, str] = Field(
        default_factory=dict,
        description="Metric key -> the judge's text for this example's score (judged metrics only; clipped).",
    )
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None


class ExamplePage(_Frozen):
    items: list[EvaluationExample]
    total: int
    next_page_token: str | None = None


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(min_length=2, description="Evaluation ids; the first is the baseline.")
    n_resamples: int = Field(2000, ge=100, le=100000)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0
    report: bool = Field(
        False, description="Also write the Markdown/HTML report and store it as run artifacts."
    )


class GateCheckRequest(BaseModel):
    """Check gate rules against stored evaluations (no generation)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[str | GateSpec] = Field(min_length=1)
    candidate: str = Field(description="Candidate evaluation id.")
    baseline: str | None = Field(None, description="Baseline evaluation id, for comparative rules.")


class SuiteGate(BaseModel):
    """Evaluate candidate (and baseline) on a suite and check the suite's gates: ``llmloop eval gate``."""

    model_config = ConfigDict(extra="forbid")

    suite: Suite = Field(description="The suite, as ``load_suite`` reads it from its YAML file.")
    candidate: str = Field(min_length=1, description="Candidate model reference NAME[@VERSION|@ALIAS].")
    baseline: str | None = Field(
        None, min_length=1, description="Baseline model reference, e.g. NAME@champion."
    )
    project: str | None = None
    allow_missing_baseline: bool = Field(
        False, description="Skip the comparative gates when the baseline does not resolve (no champion yet)."
    )
    reuse: bool = Field(True, description="Reuse stored identical completed evaluations.")


class MetricDelta(_Frozen):
    """Candidate minus baseline on one metric, over the examples both answered."""

    key: str
    higher_is_better: bool
    scale: str
    baseline: float | None
    candidate: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    p_value: float | None = Field(description="Paired bootstrap, two-sided.")
    p_permutation: float | None = Field(
        None, description="Sign-flip permutation test on per-example differences."
    )
    p_wilcoxon: float | None = None
    wins: int = 0
    losses: int = 0
    ties: int = 0
    n: int = 0
    verdict: Literal["better", "worse", "no significant difference", "not comparable"]


DiffOutcome = Literal["wins", "losses", "ties", "all"]


class ExampleDiff(_Frozen):
    """One paired example on one metric: both scores, both answers, and the judge's reasons if any."""

    example_id: str
    key: str
    baseline_score: float | None
    candidate_score: float | None
    input: str
    baseline_output: str | None
    candidate_output: str | None
    outcome: Literal["win", "loss", "tie", "unscored"] = Field(
        "unscored", description="For the candidate, direction-aware; unscored when either side has no score."
    )
    baseline_rationale: str | None = None
    candidate_rationale: str | None = None


class ExampleDiffPage(_Frozen):
    """Paired examples of a comparison on one metric, largest change first."""

    baseline_id: str
    candidate_id: str
    key: str
    outcome: DiffOutcome
    items: list[ExampleDiff]
    total: int
    next_page_token: str | None = None


class PairComparison(_Frozen):
    baseline_id: str
    candidate_id: str
    baseline_model: str
    candidate_model: str
    n_paired: int
    only_baseline: int
    only_candidate: int
    baseline_error_rate: float | None
    candidate_error_rate: float | None
    metrics: list[MetricDelta]
    top_wins: list[ExampleDiff]
    top_losses: list[ExampleDiff]
    pairwise: dict[str, Any] | None = Field(
        None,
        description="LLM-judge pairwise verdicts over both orders (a = baseline, b = candidate), when a judge was given.",
    )


class Comparison(_Frozen):
    evaluation_ids: list[str]
    suite: str
    pairs: list[PairComparison]
    report_path: str | None = Field(None, description="Folder holding report.md, report.html and the plots.")
    report_run_id: str | None = Field(None, description="Tracking run holding the report as artifacts.")


GateStatus = Literal["pass", "fail", "skipped"]


class GateResult(_Frozen):
    rule: str
    status: GateStatus
    required: bool = True
    observed: float | None = None
    threshold: float | None = None
    detail: str = ""


class GateVerdict(_Frozen):
    """Whether a candidate passed every required gate; a failed gate is a result, not an error."""

    passed: bool
    suite: str
    candidate_evaluation_id: str
    baseline_evaluation_id: str | None = None
    results: list[GateResult]
