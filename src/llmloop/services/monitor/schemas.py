"""Monitoring contracts shared by the service, the CLI, the REST API and the SDK.

A monitor is a named rule over a sliding window of one project's traces (optionally one
deployment or model version): a metric (``latency_p95``, ``thumbs_down_rate``, …) or a drift test
of the window's texts against a reference. Alert rules watch one monitor; triggers watch monitors
and feedback and start the next turn of the loop. One YAML file (``MonitoringConfig``) can hold
all three.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmloop.validation import closest_key

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)
_NAME = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# metric -> what it measures; the window query computes each one (services/monitor/windows.py)
METRICS: dict[str, str] = {
    "request_count": "traces in the window",
    "latency_p50": "median request latency, ms",
    "latency_p95": "95th percentile request latency, ms",
    "latency_p99": "99th percentile request latency, ms",
    "ttft_p50": "median time to first token of streamed requests, ms",
    "ttft_p95": "95th percentile time to first token, ms",
    "ttft_p99": "99th percentile time to first token, ms",
    "error_rate": "share of traces whose status is error",
    "guardrail_hits": "traces in which a guardrail acted (refused, redacted or flagged)",
    "input_tokens": "input tokens, summed",
    "output_tokens": "output tokens, summed",
    "total_tokens": "input plus output tokens, summed",
    "cost_usd": "priced cost of the window's requests, summed",
    "feedback_score": "mean feedback score given in the window",
    "thumbs_down_rate": "share of the window's feedback that is negative (score <= 0 or a 'down'/'bad' label)",
}
DriftMethod = Literal["auto", "mmd", "classifier", "topic", "length"]
Severity = Literal["info", "warning", "critical"]


ONLINE_PREFIX = "online:"  # ``online:json_valid``: the mean online score of that metric in the window


def _check_metric(value: str) -> str:
    if value.startswith(ONLINE_PREFIX):
        if not value[len(ONLINE_PREFIX) :]:
            raise ValueError("metric 'online:' names no online metric (e.g. 'online:json_valid')")
        return value
    if value not in METRICS:
        guess = closest_key(value, list(METRICS))
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise ValueError(f"unknown metric {value!r}{hint} (known: {', '.join(METRICS)})")
    return value


# ---- drift ---------------------------------------------------------------------------------------


class DriftTest(BaseModel):
    """One test's answer; ``detail`` holds what is particular to it (permutations, bandwidth, …)."""

    model_config = _CONFIG

    method: str
    statistic: float
    p_value: float
    detail: dict[str, Any] = Field(default_factory=dict)


class DriftExample(BaseModel):
    """A current text that drove the result, with why (its witness score or its cluster)."""

    model_config = _CONFIG

    text: str
    score: float
    reason: str
    trace_id: str | None = None


class TopicCluster(BaseModel):
    model_config = _CONFIG

    cluster: str  # "0".."k-1", or "new" for texts far from every reference cluster
    reference_share: float
    current_share: float
    examples: list[str] = Field(default_factory=list)


class Window(BaseModel):
    model_config = _CONFIG

    start: float
    end: float


class DriftResult(BaseModel):
    """The primary test's ``statistic`` and ``p_value`` under ``method``, the other tests beside it."""

    model_config = _CONFIG

    method: str
    statistic: float
    p_value: float
    alpha: float = Field(description="The level the result is judged at (the monitor's per-test budget).")
    drifted: bool
    n_reference: int
    n_current: int
    reference_window: Window | None = None
    current_window: Window | None = None
    tests: list[DriftTest] = Field(default_factory=list)
    topics: list[TopicCluster] = Field(default_factory=list)
    examples: list[DriftExample] = Field(default_factory=list)


class DriftRequest(BaseModel):
    """Two samples of texts, tested as ``ll.monitoring.drift`` does."""

    model_config = _CONFIG

    reference: list[str] = Field(max_length=50_000)
    current: list[str] = Field(max_length=50_000)
    method: DriftMethod = "auto"
    alpha: float = Field(0.05, gt=0, lt=1)
    permutations: int | None = Field(None, ge=19, le=20_000)
    seed: int = 0


# ---- monitors ------------------------------------------------------------------------------------


class DriftReference(BaseModel):
    """What the current window is compared with: a dataset version's column, or a fixed past window."""

    model_config = _CONFIG

    dataset: str | None = Field(None, description="NAME@VERSION of a dataset whose texts are the reference.")
    column: str = Field(
        "input", description="The dataset column holding the texts (chat rows: the user turn)."
    )
    start: float | None = Field(None, description="A past production window, epoch seconds (with end).")
    end: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> DriftReference:
        window = self.start is not None and self.end is not None
        if (self.dataset is None) == (not window):
            raise ValueError("name either a dataset or a past window (start and end), not both or neither")
        if window and self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("the reference window must end after it starts")
        return self


class DriftSettings(BaseModel):
    model_config = _CONFIG

    field: Literal["input", "output"] = Field("input", description="Which text of each trace is tested.")
    method: DriftMethod = "auto"
    reference: DriftReference
    false_alarms_per_day: float = Field(
        0.05, gt=0, le=10, description="False alarms a day the monitor may raise on unchanged traffic."
    )
    min_samples: int = Field(30, ge=5, description="Fewer current texts than this: the window is too small.")
    max_samples: int = Field(1000, ge=10, le=20_000, description="A larger window is subsampled (seeded).")


class MonitorCreate(BaseModel):
    """A metric monitor names ``metric``; a drift monitor carries ``drift``."""

    model_config = _CONFIG

    name: str = _NAME
    project: str = Field("default", min_length=1, max_length=128)
    metric: str | None = Field(
        None, description="One of the metrics in llmloop.services.monitor.schemas.METRICS."
    )
    drift: DriftSettings | None = None
    window_s: float = Field(3600.0, gt=0, le=90 * 86_400, description="The sliding window's length.")
    interval_s: float = Field(3600.0, ge=1, le=90 * 86_400, description="How often a scheduler runs it.")
    deployment: str | None = Field(None, max_length=128, description="Only this deployment's traces.")
    model: str | None = Field(None, max_length=512, description="Only traces of this model (NAME@VERSION).")

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        return None if v is None else _check_metric(v)

    @model_validator(mode="after")
    def _one_kind(self) -> MonitorCreate:
        if (self.metric is None) == (self.drift is None):
            raise ValueError("a monitor names a metric or carries drift settings, exactly one of them")
        return self


class Monitor(MonitorCreate):
    id: str
    kind: Literal["metric", "drift"]
    created_at: float
    updated_at: float
    created_by: str | None = None


class MonitorList(BaseModel):
    model_config = _CONFIG

    items: list[Monitor]


class MonitorResult(BaseModel):
    """One run of one monitor over one window. ``status`` is ``empty`` when the window held too little, and
    ``error`` when the monitor could not be measured (its reference dataset is gone): ``message`` says why."""

    model_config = _CONFIG

    monitor: str
    project: str
    ran_at: float
    window: Window
    status: Literal["ok", "empty", "error"]
    message: str = ""
    value: float | None = None
    drift: DriftResult | None = None
    trace_ids: list[str] = Field(default_factory=list, description="The traces that drove the value.")


class MonitorResultList(BaseModel):
    model_config = _CONFIG

    items: list[MonitorResult]


class MonitorRunRequest(BaseModel):
    model_config = _CONFIG

    project: str | None = None
    monitor: str | None = Field(None, description="Only this monitor (default: all the actor may read).")
    now: float | None = Field(None, description="The window's end, epoch seconds (default: now).")


class MonitorRun(BaseModel):
    """What one pass did: every monitor's result, and the alerts that fired or resolved because of it."""

    model_config = _CONFIG

    results: list[MonitorResult]
    fired: list[Alert]
    resolved: list[Alert]


# ---- alerts --------------------------------------------------------------------------------------


class Webhook(BaseModel):
    """Where notifications go. ``slack`` sends Slack's incoming-webhook shape, ``json`` the alert itself."""

    model_config = _CONFIG

    url: str = Field(max_length=2048, pattern=r"^https?://")
    format: Literal["json", "slack"] = "json"
    attempts: int = Field(4, ge=1, le=10, description="Deliveries tried before the notification is failed.")
    backoff_s: float = Field(1.0, ge=0, le=300, description="Wait before the 2nd try; doubled each time.")
    timeout_s: float = Field(5.0, gt=0, le=60)


class AlertRuleCreate(BaseModel):
    """A condition on one monitor: ``above``/``below`` a threshold for ``for_s`` seconds, or ``drifted``."""

    model_config = _CONFIG

    name: str = _NAME
    project: str = Field("default", min_length=1, max_length=128)
    monitor: str = Field(min_length=1, max_length=128)
    above: float | None = None
    below: float | None = None
    drifted: bool = Field(
        False, description="Fire when the drift monitor's p-value is under its budgeted alpha."
    )
    p_value_below: float | None = Field(
        None, gt=0, lt=1, description="Fire when the drift p-value is under this."
    )
    for_s: float = Field(0.0, ge=0, description="How long the condition must hold before the alert fires.")
    severity: Severity = "warning"
    webhooks: list[Webhook] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _one_condition(self) -> AlertRuleCreate:
        given = [self.above is not None, self.below is not None, self.drifted, self.p_value_below is not None]
        if sum(given) != 1:
            raise ValueError(
                "an alert rule has exactly one condition: above, below, drifted or p_value_below"
            )
        return self


class AlertRule(AlertRuleCreate):
    id: str
    silenced_until: float | None = None
    created_at: float
    created_by: str | None = None


class AlertRuleList(BaseModel):
    model_config = _CONFIG

    items: list[AlertRule]


class Notification(BaseModel):
    model_config = _CONFIG

    id: int
    event: Literal["fired", "resolved"]
    target: str = Field(description="The webhook's scheme and host (its path may hold a token).")
    format: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str = ""


class Alert(BaseModel):
    model_config = _CONFIG

    id: str
    rule: str
    project: str
    monitor: str
    severity: Severity
    status: Literal["firing", "resolved"]
    message: str
    value: float | None = None
    trace_ids: list[str] = Field(default_factory=list)
    fired_at: float
    resolved_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    silenced: bool = False
    notifications: list[Notification] = Field(default_factory=list)


class AlertList(BaseModel):
    model_config = _CONFIG

    items: list[Alert]


class SilenceRequest(BaseModel):
    model_config = _CONFIG

    project: str = "default"
    for_s: float = Field(ge=0, le=365 * 86_400, description="0 lifts a silence.")


# ---- triggers ------------------------------------------------------------------------------------


class TriggerCondition(BaseModel):
    """One kind of reason to start the next turn (modelled on modyn's triggers); exactly one field is set."""

    model_config = _CONFIG

    every_s: float | None = Field(None, gt=0, description="Time: this long since the last start.")
    new_feedback: int | None = Field(
        None, ge=1, description="Data amount: this much feedback since the last start."
    )
    drift: str | None = Field(None, description="Data drift: this drift monitor's latest result drifted.")
    score_drop: ScoreDrop | None = None
    any: list[TriggerCondition] | None = Field(
        None, min_length=1, description="Ensemble: one of these holds."
    )
    all: list[TriggerCondition] | None = Field(None, min_length=1, description="Ensemble: all of these hold.")

    @model_validator(mode="after")
    def _one(self) -> TriggerCondition:
        set_ = [
            k
            for k in ("every_s", "new_feedback", "drift", "score_drop", "any", "all")
            if getattr(self, k) is not None
        ]
        if len(set_) != 1:
            raise ValueError(
                "a trigger condition sets exactly one of every_s, new_feedback, drift, score_drop, any, all"
            )
        return self


class ScoreDrop(BaseModel):
    """Score drop: a metric monitor's latest value fell under ``below``."""

    model_config = _CONFIG

    monitor: str
    below: float


class TriggerBudget(BaseModel):
    model_config = _CONFIG

    max_starts: int = Field(1, ge=1, description="Starts allowed per period.")
    period_s: float = Field(86_400.0, gt=0)


class TriggerCreate(BaseModel):
    """When to start the next turn, and which pipeline file starts it."""

    model_config = _CONFIG

    name: str = _NAME
    project: str = Field("default", min_length=1, max_length=128)
    when: TriggerCondition
    pipeline: str = Field(min_length=1, max_length=1024, description="The pipeline file the turn runs.")
    cooldown_s: float = Field(3600.0, ge=0, description="No start sooner than this after the last one.")
    budget: TriggerBudget = Field(default_factory=TriggerBudget)


class Trigger(TriggerCreate):
    id: str
    created_at: float
    last_started_at: float | None = None


class TriggerList(BaseModel):
    model_config = _CONFIG

    items: list[Trigger]


class Reason(BaseModel):
    model_config = _CONFIG

    condition: str
    holds: bool
    why: str


class TriggerDecision(BaseModel):
    """What a trigger would do now (dry run) or did: ``start``, or ``wait`` with ``blocked_by`` saying why."""

    model_config = _CONFIG

    trigger: str
    project: str
    at: float
    action: Literal["start", "wait"]
    reasons: list[Reason]
    blocked_by: list[str] = Field(default_factory=list)
    pipeline: str
    dry_run: bool
    outcome: str = ""


class TriggerRunRequest(BaseModel):
    model_config = _CONFIG

    project: str = "default"
    now: float | None = None


# ---- online evaluation ---------------------------------------------------------------------------


class OnlineMetric(BaseModel):
    """One metric an online evaluator scores sampled traces with.

    ``json_valid`` scores the answer at once. ``task`` runs a registered task metric (``metric``)
    against the reference a correction feedback gives the trace, so it waits for one. ``judge``
    asks a registered model (``model``) to grade the answer against ``rubric`` on ``scale``.
    """

    model_config = _CONFIG

    kind: Literal["json_valid", "task", "judge"]
    name: str | None = Field(None, description="The score's name; default: the kind, or the task metric.")
    metric: str | None = Field(None, description="task: a registered metric name (llmloop eval metrics).")
    options: dict[str, Any] = Field(default_factory=dict, description="task: the metric's options.")
    model: str | None = Field(None, description="judge: a registered model reference (NAME@VERSION|alias).")
    rubric: str | None = Field(None, description="judge: the rubric, with {input} {prediction} {reference}.")
    scale: tuple[float, float] = (1, 5)

    @model_validator(mode="after")
    def _fits_kind(self) -> OnlineMetric:
        if self.kind == "task" and not self.metric:
            raise ValueError("a task metric names 'metric' (a registered metric)")
        if self.kind == "judge" and not self.model:
            raise ValueError("a judge metric names 'model' (a registered model reference)")
        if self.kind != "task" and (self.metric or self.options):
            raise ValueError(f"'metric' and 'options' are for task metrics, not {self.kind}")
        if self.kind != "judge" and (self.model or self.rubric):
            raise ValueError(f"'model' and 'rubric' are for judge metrics, not {self.kind}")
        if self.scale[0] >= self.scale[1]:
            raise ValueError(f"'scale' must have min < max, got {self.scale[0]}..{self.scale[1]}")
        return self

    @property
    def score_name(self) -> str:
        return self.name or (self.metric if self.kind == "task" and self.metric else self.kind)


class OnlineEvaluatorCreate(BaseModel):
    """Score a deterministic ``sample_rate`` share of a project's live traces (optionally one
    deployment or model) with ``metrics``, off the request path, at most ``max_per_pass`` per pass."""

    model_config = _CONFIG

    name: str = _NAME
    project: str = "default"
    deployment: str | None = None
    model: str | None = None
    sample_rate: float = Field(ge=0.0, le=1.0)
    metrics: list[OnlineMetric] = Field(min_length=1)
    lookback_s: float = Field(86_400.0, gt=0, description="How far back a pass looks for unscored traces.")
    max_per_pass: int = Field(200, ge=1, le=100_000, description="Scores written per pass, at most.")

    @model_validator(mode="after")
    def _distinct_names(self) -> OnlineEvaluatorCreate:
        names = [m.score_name for m in self.metrics]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two metrics score under the same name {dup[0]!r}; give one a 'name'")
        return self


class OnlineEvaluator(OnlineEvaluatorCreate):
    id: str
    version: int
    created_at: float
    updated_at: float
    created_by: str | None = None


class OnlineEvaluatorList(BaseModel):
    model_config = _CONFIG

    items: list[OnlineEvaluator]


class OnlineRunRequest(BaseModel):
    model_config = _CONFIG

    project: str | None = None
    evaluator: str | None = None
    now: float | None = None


class OnlinePass(BaseModel):
    """What one pass of one evaluator did: traces seen and sampled, scores written per metric,
    sampled traces still waiting for a reference, and metrics that failed."""

    model_config = _CONFIG

    evaluator: str
    project: str
    version: int
    seen: int
    sampled: int
    scored: dict[str, int]
    awaiting_reference: int
    errors: list[str] = Field(default_factory=list)


class OnlineRun(BaseModel):
    model_config = _CONFIG

    passes: list[OnlinePass]


class OnlineScore(BaseModel):
    model_config = _CONFIG

    evaluator: str
    version: int
    metric: str
    trace_id: str
    score: float | None
    detail: dict[str, Any]
    created_at: float
    source: Literal["online-eval"] = "online-eval"


class OnlineScoreList(BaseModel):
    model_config = _CONFIG

    items: list[OnlineScore]


# ---- the file ------------------------------------------------------------------------------------


class MonitoringConfig(BaseModel):
    """``llmloop monitor apply FILE``: monitors, alert rules, triggers and online evaluators in one
    YAML document."""

    model_config = _CONFIG

    monitors: list[MonitorCreate] = Field(default_factory=list)
    alerts: list[AlertRuleCreate] = Field(default_factory=list)
    triggers: list[TriggerCreate] = Field(default_factory=list)
    online: list[OnlineEvaluatorCreate] = Field(default_factory=list)


class Applied(BaseModel):
    model_config = _CONFIG

    monitors: list[str]
    alerts: list[str]
    triggers: list[str]
    online: list[str] = Field(default_factory=list)


# ---- a model version's life ----------------------------------------------------------------------


class TimelineEvent(BaseModel):
    model_config = _CONFIG

    at: float
    kind: Literal["registered", "alias", "evaluation", "traffic", "feedback", "drift", "alert"]
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


class Timeline(BaseModel):
    model_config = _CONFIG

    model: str
    version: int
    events: list[TimelineEvent]


TriggerCondition.model_rebuild()
MonitorRun.model_rebuild()
