"""Deployment and feedback contracts shared by the service, the CLI, the REST API and the gateway."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmloop.config import mask_secrets
from llmloop.services.observe.schemas import Trace
from llmloop.services.serve.guardrails import GuardrailSpec
from llmloop.services.serve.limits import RateLimits

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)
Policy = Literal["single", "weighted"]


class TargetSpec(BaseModel):
    """Where a request goes: a registered model (``model`` only) or an OpenAI-compatible ``upstream``.

    The upstream's key is named, never given (``security.upstream``); a password in ``upstream`` is
    masked as the URL is read, so no spec ever holds one, and writing such a URL is refused.
    """

    model_config = _CONFIG

    model: str = Field(
        min_length=1, max_length=512, description="Model reference, or the upstream's model name."
    )
    upstream: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^https?://",
        description="Base URL of an OpenAI-compatible API (…/v1).",
    )
    api_key_secret: str | None = Field(
        None, max_length=128, description="Secret (llmloop secrets set) holding the upstream's key."
    )
    api_key_env: str | None = Field(
        None,
        max_length=128,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the upstream's key; only one the operator allows.",
    )
    weight: float = Field(1.0, ge=0.0, le=1_000_000.0)

    @field_validator("upstream", mode="before")
    @classmethod
    def _masked(cls, v: object) -> object:
        return mask_secrets(v) if isinstance(v, str) else v

    @property
    def label(self) -> str:
        return f"{self.model}@{self.upstream}" if self.upstream else self.model


class DeploymentSpec(BaseModel):
    """One revision's routing: ``single`` uses the first target; ``weighted`` splits by weight, sticky per user."""

    model_config = _CONFIG

    policy: Policy = "single"
    targets: list[TargetSpec] = Field(min_length=1, max_length=32)
    shadow: list[TargetSpec] = Field(
        default_factory=list,
        max_length=8,
        description="Mirrored in the background; recorded, never returned.",
    )
    fallbacks: list[TargetSpec] = Field(
        default_factory=list,
        max_length=8,
        description="Tried in order when the chosen target errs or times out.",
    )
    timeout_s: float = Field(60.0, gt=0, le=3600)
    guardrails: GuardrailSpec = Field(default_factory=GuardrailSpec)
    limits: RateLimits = Field(
        default_factory=RateLimits, description="Requests/tokens per minute for the deployment."
    )

    @model_validator(mode="after")
    def _weights(self) -> DeploymentSpec:
        if self.policy == "weighted" and sum(t.weight for t in self.targets) <= 0:
            raise ValueError("weighted policy needs a positive total weight")
        return self


class DeploymentCreate(BaseModel):
    model_config = _CONFIG

    name: str = Field(min_length=1, max_length=128)
    project: str | None = None
    spec: DeploymentSpec
    message: str = Field("", max_length=4000)


class Deployment(BaseModel):
    """A deployment at one revision (the latest unless asked otherwise)."""

    model_config = _CONFIG

    name: str
    project: str
    revision: int
    latest_revision: int
    spec: DeploymentSpec
    message: str = ""
    created_at: float
    created_by: str | None = None


class DeploymentPage(BaseModel):
    model_config = _CONFIG

    items: list[Deployment]


class TargetFigures(BaseModel):
    """What one target of a deployment's split has done since ``DeploymentStatus.since``.

    A request counts against the target it was routed to (the arm of the split) whoever answered
    it in the end, so a canary's error rate includes the requests a fallback rescued only as ok.
    """

    model_config = _CONFIG

    target: str = Field(description="The target's label (its model, @upstream when it has one).")
    weight: float | None = Field(
        None, description="Its weight in the latest revision; none for a target no longer routed to."
    )
    share: float | None = Field(None, description="weight / the targets' total weight.")
    requests: int
    errors: int
    error_rate: float | None = Field(None, description="errors / requests; none without requests.")
    p50_ms: float | None = Field(None, description="Median gateway latency (the root span's duration).")
    p95_ms: float | None = None
    scored: int = Field(0, description="Feedback with a score on the traces this target served.")
    mean_score: float | None = Field(None, description="Mean of those scores; none without any.")
    p95_ttft_ms: float | None = Field(None, description="Time to first token, p95, of its streamed requests.")
    input_tokens: int = Field(0, description="Prompt tokens of the requests routed to this target.")
    output_tokens: int = Field(0, description="Tokens it answered with.")


class DeploymentStatus(BaseModel):
    """A deployment's live figures per target, read from the traces and feedback tables."""

    model_config = _CONFIG

    name: str
    project: str
    revision: int
    policy: Policy
    since: float = Field(
        description="Start of the window, which runs to now (default: when the latest revision was written)."
    )
    targets: list[TargetFigures]


class RollbackRequest(BaseModel):
    model_config = _CONFIG

    to_revision: int | None = Field(None, ge=1, description="Default: the revision before the latest.")
    project: str | None = None


class FeedbackCreate(BaseModel):
    model_config = _CONFIG

    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    score: float | None = Field(None, ge=-1e9, le=1e9)
    label: str | None = Field(None, min_length=1, max_length=128)
    comment: str | None = Field(None, max_length=100_000)
    correction: str | None = Field(
        None, max_length=1_000_000, description="The answer the model should have given."
    )
    preferred: str | None = Field(
        None,
        max_length=1_000_000,
        description="A response preferred over the traced one (pairwise preference).",
    )

    @model_validator(mode="after")
    def _something(self) -> FeedbackCreate:
        if all(v is None for v in (self.score, self.label, self.comment, self.correction, self.preferred)):
            raise ValueError("feedback needs at least one of score, label, comment, correction, preferred")
        return self


class Feedback(BaseModel):
    model_config = _CONFIG

    id: str
    trace_id: str
    project: str
    score: float | None = None
    label: str | None = None
    comment: str | None = None
    correction: str | None = None
    preferred: str | None = None
    created_at: float
    created_by: str | None = None


class TraceDetail(Trace):
    """A trace with its spans and the feedback given on it."""

    feedback: list[Feedback] = Field(default_factory=list)


class FeedbackList(BaseModel):
    model_config = _CONFIG

    items: list[Feedback]


class FeedbackExportRequest(BaseModel):
    """Feedback as training rows: corrections as chat rows (sft), or chosen/rejected pairs (preference)."""

    model_config = _CONFIG

    kind: Literal["sft", "preference"]
    project: str | None = None
    dataset: str | None = Field(
        None, min_length=1, description="Also register the rows as the next version of this dataset."
    )
    approved_min_score: float | None = Field(
        None,
        description="sft only: also export the answers rated at least this score, as they were served.",
    )

    @model_validator(mode="after")
    def _approved_is_for_sft(self) -> FeedbackExportRequest:
        if self.approved_min_score is not None and self.kind != "sft":
            raise ValueError(
                "approved_min_score applies to sft exports only (a preference needs two answers)"
            )
        return self


class FeedbackExport(BaseModel):
    """The rows of an export, for the caller to write where it wants them."""

    model_config = _CONFIG

    kind: Literal["sft", "preference"]
    rows: list[dict[str, Any]]
    trace_ids: list[str]
    dataset_version: str | None = None
