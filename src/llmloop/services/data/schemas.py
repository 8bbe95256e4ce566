"""The datasets contract shared by the SDK, the CLI (``--json``) and ``/api/v1/datasets``."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmloop.services.data.kinds import Kind
from llmloop.services.data.pii import KINDS as PII_KINDS
from llmloop.validation import format_validation_error

PiiPolicy = Literal["warn", "block"]
Format = Literal["jsonl", "json", "csv", "parquet", "hf"]
ExportFormat = Literal["jsonl", "parquet", "csv", "hf"]

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)
_FROZEN = ConfigDict(extra="forbid", from_attributes=True, frozen=True)


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], **values: Any) -> M:
    """Build a schema from code (SDK, CLI, a route's own values): bad values are InvalidInput, not a crash."""
    try:
        return model(**values)
    except ValidationError as e:
        raise format_validation_error(e, model=model, detail_name="field") from e


def pii_zero() -> dict[str, int]:
    return dict.fromkeys(PII_KINDS, 0)


class Histogram(BaseModel):
    model_config = _FROZEN

    edges: list[float] = Field(description="Bin edges; bin i holds values in [edges[i], edges[i+1]).")
    counts: list[int]


class LengthStats(BaseModel):
    model_config = _FROZEN

    count: int = 0
    min: int = 0
    max: int = 0
    mean: float = 0.0
    p50: int = 0
    p90: int = 0
    p99: int = 0
    total: int = 0
    histogram: Histogram = Field(default_factory=lambda: Histogram(edges=[], counts=[]))


class FieldProfile(BaseModel):
    model_config = _FROZEN

    values: int = Field(description="Non-null values (for chat roles: messages with that role).")
    empty: int = Field(description="Values that are empty or whitespace only.")
    tokens: LengthStats
    pii: dict[str, int] = Field(default_factory=pii_zero, description="Findings per PII kind.")


class DuplicateReport(BaseModel):
    model_config = _FROZEN

    exact_rows: int = Field(0, description="Rows identical to an earlier row.")
    exact_groups: int = 0
    near_rows: int = Field(
        0, description="Rows equal to an earlier row after normalisation (case, punctuation, spaces)."
    )
    near_groups: int = 0
    examples: list[list[int]] = Field(
        default_factory=list, description="Row numbers (0-based) of a few near-duplicate groups."
    )


class ChatProfile(BaseModel):
    model_config = _FROZEN

    messages_per_row: LengthStats
    tokens_per_row: LengthStats
    role_counts: dict[str, int]
    role_share: dict[str, float]
    rows_with_system: int
    rows_without_user: int
    rows_ending_with_assistant: int


class NGram(BaseModel):
    model_config = _FROZEN

    text: str
    count: int


class LeakagePair(BaseModel):
    model_config = _FROZEN

    a: str
    b: str
    exact: int = Field(description="Rows of b whose exact row also appears in a.")
    key: int = Field(description="Rows of b whose normalised key (prompt/input/turns) also appears in a.")


class Profile(BaseModel):
    model_config = _FROZEN

    rows: int
    invalid_rows: int = 0
    empty_rows: int = 0
    tokenizer: str = "whitespace"
    fields: dict[str, FieldProfile] = Field(default_factory=dict)
    duplicates: DuplicateReport = Field(default_factory=DuplicateReport)
    chat: ChatProfile | None = None
    top_ngrams: dict[str, list[NGram]] = Field(default_factory=dict)
    ngram_sample_rows: int = 0
    languages: dict[str, float] | None = Field(None, description="Language shares in a sample (py3langid).")
    pii: dict[str, int] = Field(default_factory=pii_zero, description="Findings per PII kind, all fields.")
    splits: dict[str, int] | None = None
    leakage: list[LeakagePair] | None = None

    @property
    def pii_total(self) -> int:
        return sum(self.pii.values())


class DatasetAdd(BaseModel):
    """What ``data add`` asks for; ``path`` is a local path, glob or fsspec URL."""

    model_config = _CONFIG

    name: str
    path: str
    project: str = "default"
    kind: Kind | None = Field(None, description="Row schema; detected from the first record when omitted.")
    format: Format | None = Field(None, description="File format; from the file name when omitted.")
    mapping: dict[str, str] = Field(default_factory=dict, description="source field -> canonical field")
    skip_invalid: bool = False
    pii: PiiPolicy = "warn"
    tokenizer: str | None = Field(None, description="Local Hugging Face tokenizer folder for token lengths.")
    description: str = Field("", max_length=2000)
    display_name: str | None = Field(None, description="Name used in messages instead of path (uploads).")

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, v: dict[str, str]) -> dict[str, str]:
        targets = list(v.values())
        if len(set(targets)) != len(targets):
            raise ValueError("two --map entries name the same target field")
        if any(not k or not t for k, t in v.items()):
            raise ValueError("--map entries look like SOURCE=TARGET with both names non-empty")
        return v


class DatasetVersionSummary(BaseModel):
    model_config = _FROZEN

    id: str
    project: str
    name: str
    version: int
    ref: str
    kind: Kind
    rows: int
    invalid_rows: int
    content_hash: str
    data_sha256: str
    data_size: int
    format: str
    source: str
    options: dict[str, object] = Field(default_factory=dict)
    parent: str | None = Field(None, description="The version this one was derived from (NAME@V).")
    relation: str | None = Field(None, description="How it was derived: redacted, split, deduplicated…")
    aliases: list[str] = Field(default_factory=list)
    splits: dict[str, int] | None = None
    pii_total: int = 0
    created_at: float
    created_by: str | None = None
    description: str = ""


class DatasetVersion(DatasetVersionSummary):
    model_config = _FROZEN

    index_sha256: str
    profile: Profile


class Dataset(BaseModel):
    model_config = _FROZEN

    project: str
    name: str
    description: str = ""
    latest_version: int
    versions: int
    aliases: dict[str, int] = Field(default_factory=dict)
    created_at: float


class DatasetShow(BaseModel):
    """``data show NAME[@V]``: the dataset, its versions, and one version in full (with its profile)."""

    model_config = _FROZEN

    dataset: Dataset
    versions: list[DatasetVersionSummary]
    version: DatasetVersion


class DatasetAddResult(BaseModel):
    model_config = _FROZEN

    created: bool = Field(description="False when identical content already was a version: nothing new made.")
    version: DatasetVersion


class DiffExamples(BaseModel):
    model_config = _FROZEN

    added: list[int] = Field(default_factory=list, description="Row numbers in b.")
    removed: list[int] = Field(default_factory=list, description="Row numbers in a.")
    changed: list[tuple[int, int]] = Field(default_factory=list, description="(row in a, row in b).")


class DatasetDiff(BaseModel):
    model_config = _FROZEN

    a: str
    b: str
    added: int
    removed: int
    changed: int
    unchanged: int
    examples: DiffExamples


class SplitSpec(BaseModel):
    model_config = _CONFIG

    fractions: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1},
        description="split name -> share of rows; shares must sum to 1.",
    )
    seed: int = 0
    stratify: str | None = Field(None, description="Column to stratify by: a field, or metadata.KEY.")
    into: Literal["column", "datasets"] = Field(
        "column",
        description="'column': one child version with a split column; 'datasets': one version per split "
        "in datasets named NAME-SPLIT.",
    )

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: dict[str, float]) -> dict[str, float]:
        from llmloop.services.data.kinds import SPLIT_RE

        if not v or any(f <= 0 for f in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(
                "split fractions must be positive and sum to 1, e.g. train=0.8,validation=0.1,test=0.1"
            )
        bad = [k for k in v if not SPLIT_RE.match(k)]
        if bad:
            raise ValueError(f"invalid split name {bad[0]!r}")
        return v


class SplitResult(BaseModel):
    model_config = _FROZEN

    versions: list[DatasetVersion]
    counts: dict[str, int]
    leakage: list[LeakagePair]


class Rows(BaseModel):
    """A page of a version's rows in storage order, or of the rows a search found from ``offset``."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]]
    offset: int = Field(
        description="The row number (within the split, when one was asked) the read began at."
    )
    total: int = Field(description="Rows in the version (or the split).")
    next_offset: int | None = Field(
        None,
        description="Where the next page begins (pass it back as offset); None once the end was reached.",
    )
    scanned: int = Field(0, description="Rows read from offset to next_offset (or to the end).")
    q: str | None = Field(None, description="The search text, when the page is a search.")
