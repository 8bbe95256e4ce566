"""The schedules contract: a named cron trigger of one job kind (``pipeline``, later ``monitor``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class ScheduleCreate(BaseModel):
    model_config = _CONFIG

    name: str = Field(pattern=_NAME, description="Unique in the project.")
    project: str | None = None
    kind: str = Field("pipeline", max_length=32, description="The job kind that runs (pipeline, monitor, …).")
    target: str = Field(min_length=1, max_length=4000, description="What the job runs: a pipeline file, …")
    cron: str = Field(min_length=1, max_length=128, description="Five crontab fields, UTC: '0 3 * * *'.")
    options: dict[str, Any] = Field(default_factory=dict, description="Job options (pipeline: no_cache).")


class Schedule(BaseModel):
    model_config = _CONFIG

    id: str
    project: str
    name: str
    kind: str
    target: str
    cron: str
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    created_by: str | None = None
    last_run_at: float | None = None
    last_status: str | None = None
    last_error: str = ""
    next_run_at: float | None = Field(None, description="When the cron fires next (UTC seconds).")


class ScheduleList(BaseModel):
    model_config = _CONFIG

    items: list[Schedule]
