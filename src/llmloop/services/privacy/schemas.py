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
    deleted: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="project -> kind -> rows deleted; for kinds that quote purged rows (monitor results, "
        "alerts) the rows scrubbed of those quotes.",
    )
    total: int = 0


class EraseReport(BaseModel):
    model_config = _CONFIG

    subject_digest: str = Field(description="sha256 prefix of the erased id; the id itself is not kept.")
    removed: dict[str, int] = Field(default_factory=dict, description="kind -> rows removed.")
    audit_events_anonymised: int = 0
    artifacts_removed: int = Field(0, description="Blobs that only the erased rows referred to.")


class RetentionSet(BaseModel):
    """One kind's retention in one project. The service checks the values (known kind, at least a day)."""

    model_config = _CONFIG

    kind: str = Field(description="runs (and, as their areas land, traces, …).")
    days: int | None = Field(description="Days to keep; null: keep forever.")


class EraseRequest(BaseModel):
    model_config = _CONFIG

    user_id: str = Field(description="The id as it appears in the data (run creator, trace user, …).")
