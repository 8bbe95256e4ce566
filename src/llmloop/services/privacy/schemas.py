"""What retention, purge and erase commands read and return (CLI ``--json`` and API alike)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_CONFIG = ConfigDict(extra="forbid")


class RetentionPolicy(BaseModel):
    model_config = _CONFIG

    project: str
    days: dict[str, int] = Field(default_factory=dict, description="Kind (runs, traces, …) -> days kept.")


class PurgeReport(BaseModel):
    model_config = _CONFIG

    at: float
    deleted: dict[str, dict[str, int]] = Field(default_factory=dict, description="project -> kind -> rows.")
    total: int = 0


class EraseReport(BaseModel):
    model_config = _CONFIG

    subject_digest: str = Field(description="sha256 prefix of the erased id; the id itself is not kept.")
    removed: dict[str, int] = Field(default_factory=dict, description="kind -> rows removed.")
    audit_events_anonymised: int = 0
