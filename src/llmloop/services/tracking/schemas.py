"""The tracking contract shared by the SDK, the CLI (``--json``) and ``/api/v1/runs``."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from llmloop.errors import InvalidInput

RunStatus = Literal["running", "finished", "failed", "killed"]
MAX_KEY = 250
MAX_PARAM = 8000
SPECIAL_VALUES = frozenset({"NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"})

# A metric value on the wire: a JSON number, or one of the strings NaN and ±inf travel as.
# Strict, so ``true`` or ``"1.5"`` are refused, and checked in pydantic-core, not per point in Python.
MetricValue = Annotated[float, Strict()] | Literal["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"]
# (key, value, step, timestamp): the compact form the SDK sends metric points in.
PointTuple = tuple[
    Annotated[str, Field(min_length=1, max_length=MAX_KEY)], MetricValue, Annotated[int, Field(ge=0)], float
]

# NaN and ±inf travel as the strings "NaN", "Infinity", "-Infinity" in JSON and come back as floats.
_CONFIG = ConfigDict(extra="forbid", ser_json_inf_nan="strings", from_attributes=True)


class MetricPoint(BaseModel):
    model_config = _CONFIG

    key: str = Field(min_length=1, max_length=MAX_KEY)
    value: float
    step: int = Field(0, ge=0)
    timestamp: float

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ValueError(f"metric value must be a number, got {type(v).__name__}")
        if isinstance(v, str) and v not in {"NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"}:
            raise ValueError(f"metric value must be a number, got {v[:40]!r}")
        return v


class RunArtifact(BaseModel):
    model_config = _CONFIG

    path: str
    sha256: str
    size: int


class Run(BaseModel):
    model_config = _CONFIG

    id: str
    project: str
    name: str
    kind: str = "run"
    parent_id: str | None = None
    status: RunStatus
    start_time: float
    end_time: float | None = None
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict, description="Latest value of each metric.")
    artifacts: list[RunArtifact] = Field(default_factory=list)
    env: dict[str, Any] = Field(default_factory=dict)
    created_by: str | None = None

    @property
    def duration_s(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time


class RunCreate(BaseModel):
    model_config = _CONFIG

    project: str = "default"
    name: str | None = Field(None, max_length=256)
    kind: str = Field("run", max_length=32)
    parent_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    env: dict[str, Any] = Field(default_factory=dict)
    host: str | None = Field(None, max_length=256)
    pid: int | None = Field(None, ge=0, le=2**31 - 1)  # a pid_t: larger cannot be a process here


class RunBatch(BaseModel):
    """Everything a buffered run writes in one transaction; ``end_status`` also closes the run.

    Metric points come as ``metrics`` (objects, readable) or ``points`` (``[key, value, step,
    timestamp]`` lists, what the SDK sends): a pydantic object per point costs more than
    writing the point, so training loops and sweeps use the compact form.
    """

    model_config = _CONFIG

    metrics: list[MetricPoint] = Field(default_factory=list)
    points: list[PointTuple] = Field(
        default_factory=list,
        description='Compact metric points: [[key, value, step, timestamp], ...]; value may be "NaN", "Infinity", "-Infinity".',
    )
    params: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    end_status: RunStatus | None = None


class MetricHistory(BaseModel):
    model_config = _CONFIG

    items: list[MetricPoint]


class RunPage(BaseModel):
    model_config = _CONFIG

    items: list[Run]
    next_page_token: str | None = None


class RunSearch(BaseModel):
    model_config = _CONFIG

    project: str | None = None
    filter: str | None = Field(
        None, max_length=4000, description="e.g. \"metrics.loss < 0.5 and params.lr = '0.01'\""
    )
    order_by: list[str] = Field(
        default_factory=list, description="e.g. ['metrics.loss ASC', 'start_time DESC']"
    )
    limit: int = Field(100, ge=1, le=10000)
    page_token: str | None = None
    parent_id: str | None = None


def is_special(value: float) -> bool:
    return math.isnan(value) or math.isinf(value)


def metric_value(value: Any, key: str = "") -> float:
    """``value`` as a float, or InvalidInput: numbers (Python, NumPy, 0-d tensors) and the NaN/inf names.

    The SDK calls this per ``log_metric``, so it is a few type checks rather than a model.
    """
    if value.__class__ is float:
        return value
    if isinstance(value, bool) or (isinstance(value, str) and value not in SPECIAL_VALUES):
        got = repr(value)[:40] if isinstance(value, str) else type(value).__name__
        raise InvalidInput(
            f"metric {key!r} value must be a number, got {got}", details={"field": "metrics", "key": key}
        )
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise InvalidInput(
            f"metric {key!r} value must be a number, got {type(value).__name__}",
            details={"field": "metrics", "key": key},
        ) from e


def check_key(key: str, what: str) -> str:
    """``key`` if it can name a metric, param or tag (``what``), else InvalidInput."""
    if (
        not isinstance(key, str)
        or not key
        or len(key) > MAX_KEY
        or "\n" in key
        or "\r" in key
        or "\x00" in key
    ):
        raise InvalidInput(
            f"invalid {what} key {str(key)[:80]!r}: 1-{MAX_KEY} characters, no newlines",
            details={"field": what, "key": str(key)[:80]},
        )
    return key


def param_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM:
        raise InvalidInput(
            f"param {key!r} is too long ({len(text)} characters, max {MAX_PARAM})",
            details={"field": "params", "key": key},
        )
    return text
