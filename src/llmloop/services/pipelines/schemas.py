"""The pipelines contract shared by the SDK, the CLI (``--json``) and the scheduler."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StepState = Literal["pending", "running", "finished", "cached", "failed", "skipped"]
PipelineStatus = Literal["running", "finished", "failed", "killed"]  # killed: its process is gone
CacheDecision = Literal["hit", "miss", "off"]

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)


class StepStatus(BaseModel):
    model_config = _CONFIG

    name: str
    kind: str
    state: StepState
    cache: CacheDecision | None = Field(
        None, description="hit (outputs reused), miss (ran), off (cache: false)."
    )
    reason: str = Field("", description="Why the cache hit or missed.")
    cache_key: str | None = None
    run_id: str | None = Field(None, description="The tracked run of this step (a hit has one too).")
    attempts: int = 0
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str = ""
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


class PipelineRun(BaseModel):
    model_config = _CONFIG

    id: str = Field(description="Also the id of the tracked run that parents the steps' runs.")
    project: str
    name: str
    status: PipelineStatus
    executor: str
    definition_sha256: str
    started_at: float
    ended_at: float | None = None
    steps: list[StepStatus] = Field(default_factory=list)

    def step(self, name: str) -> StepStatus:
        return next(s for s in self.steps if s.name == name)


class PipelineRunPage(BaseModel):
    model_config = _CONFIG

    items: list[PipelineRun]
