"""The models contract shared by the SDK (``ll.models``), the CLI (``--json``) and ``/api/v1/models``."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmloop.config import mask_secrets
from llmloop.engines.spec import QUANTIZATIONS, BaseKind, EngineKind
from llmloop.validation import KeyProblem

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)
_FROZEN = ConfigDict(extra="forbid", from_attributes=True, frozen=True)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

Source = Literal["manual", "run", "base", "import", "export"]


class EntityRef(BaseModel):
    """Something a version came from, as a lineage edge ``(type, id) --relation--> version``."""

    model_config = _FROZEN

    type: str = Field(min_length=1, max_length=64, description="dataset_version, prompt_version, run...")
    id: str = Field(min_length=1, max_length=256)
    relation: str = Field("trained_on", min_length=1, max_length=64)


class UpstreamSpec(BaseModel):
    """An OpenAI-compatible server the user runs; only the *name* of its key is kept (``security.upstream``).

    A password in ``base_url`` is masked as the URL is read, so no model object ever holds it;
    registering such a URL is refused (the key belongs in a secret).
    """

    model_config = _FROZEN

    base_url: str = Field(description="e.g. http://127.0.0.1:8000/v1")
    model: str = Field(min_length=1, max_length=256, description="The model name the upstream knows.")
    api_key_secret: str | None = Field(
        None, max_length=128, description="Name of the secret (llmloop secrets set) holding the key."
    )
    api_key_env: str | None = Field(
        None, description="Name of an environment variable holding the key; only one the operator allows."
    )
    timeout_s: float = Field(60.0, gt=0, le=3600)
    max_retries: int = Field(2, ge=0, le=10)

    @field_validator("base_url", mode="before")
    @classmethod
    def _masked(cls, v: object) -> object:
        return mask_secrets(v) if isinstance(v, str) else v

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"base_url must be an http(s) URL, got {v[:100]!r}")
        return v.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not ENV_NAME.fullmatch(v):
            raise ValueError(
                "api_key_env names an environment variable (letters, digits, '_'); never put the key itself here"
            )
        return v


class ModelVersionFields(BaseModel):
    """A version's content: exactly one base (a path/hub id, a registered ref, or an upstream) and the rest.

    The HTTP body of ``POST /models/{name}/versions`` (project and name are in the URL).
    """

    model_config = _CONFIG

    base: str | None = Field(None, description="A local HF folder, a GGUF file or a hub id (org/name).")
    base_model: str | None = Field(None, description="A registered model reference the version builds on.")
    upstream: UpstreamSpec | None = None
    adapter_dir: str | None = Field(None, description="A PEFT LoRA folder, checked against the base.")
    run_id: str | None = None
    source: Source = "manual"
    description: str = Field("", max_length=2000)
    inputs: list[EntityRef] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    chat_template: str | None = None
    license: str | None = Field(None, max_length=256)
    quantization: str | None = Field(None, max_length=32)
    default_engine: EngineKind | None = None

    @model_validator(mode="after")
    def _one_base(self) -> ModelVersionFields:
        given = [k for k in ("base", "base_model", "upstream") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "name exactly one base: base (folder, GGUF file or hub id), base_model (a registered "
                f"reference) or upstream; got {', '.join(given) or 'none'}"
            )
        return self

    @field_validator("quantization")
    @classmethod
    def _applied_by_an_engine(cls, v: str | None) -> str | None:
        if v is not None and v not in QUANTIZATIONS:
            raise ValueError(
                f"use one of: {', '.join(QUANTIZATIONS)}, which an engine applies when loading the "
                "weights (a GGUF file's own quantization is read from the file)"
            )
        return v

    @model_validator(mode="after")
    def _quantization_is_served(self) -> ModelVersionFields:
        """A quantization the chosen engine would not apply is refused, not stored as a false label."""
        if self.quantization is None:
            return self
        engine = QUANTIZATIONS[self.quantization]
        if self.upstream is not None:
            raise KeyProblem(
                "quantization",
                f"{self.quantization} is applied by the {engine} engine to local weights; "
                "an upstream server serves its model as it loaded it",
            )
        if self.default_engine not in (None, engine):
            raise KeyProblem(
                "quantization",
                f"{self.quantization} is applied by the {engine} engine; "
                f"default_engine {self.default_engine!r} would serve the weights without it",
            )
        return self


class ModelVersionCreate(ModelVersionFields):
    """What registering a version needs: where it goes (project, name) and its content."""

    project: str
    name: str


class BaseRef(BaseModel):
    """Where a version's base weights are: ``version`` is the registered ref it was built on, if any."""

    model_config = _FROZEN

    kind: BaseKind
    uri: str
    version: str | None = None
    sha256: str | None = None


class AdapterInfo(BaseModel):
    model_config = _FROZEN

    sha256: str = Field(description="Digest of the adapter manifest blob (each file by its own digest).")
    size: int = Field(description="Bytes of every adapter file together.")
    files: dict[str, str] = Field(default_factory=dict, description="file name -> sha256")
    peft_type: str | None = None
    rank: int | None = None
    alpha: float | None = None
    target_modules: list[str] = Field(default_factory=list)
    parameters: int | None = None


class ModelVersion(BaseModel):
    model_config = _FROZEN

    id: str
    project: str
    name: str
    version: int
    ref: str
    aliases: list[str] = Field(default_factory=list)
    base: BaseRef
    adapter: AdapterInfo | None = None
    architecture: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    chat_template: str | None = None
    license: str | None = None
    default_engine: EngineKind | None = None
    upstream: UpstreamSpec | None = None
    run_id: str | None = None
    source: str = "manual"
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    created_by: str | None = None

    @property
    def adapter_sha256(self) -> str | None:
        return self.adapter.sha256 if self.adapter is not None else None


class Model(BaseModel):
    model_config = _FROZEN

    project: str
    name: str
    description: str = ""
    latest_version: int
    versions: int
    aliases: dict[str, int] = Field(default_factory=dict)
    created_at: float


class GateResult(BaseModel):
    """What one promotion gate answered; a failed *required* gate refuses the alias move."""

    model_config = _FROZEN

    name: str
    passed: bool
    message: str = ""
    required: bool = True
    details: dict[str, Any] = Field(default_factory=dict)


class AliasEvent(BaseModel):
    """One alias move in the history: ``to_version`` None is a removal; ``forced`` skipped a protection's gates."""

    model_config = _FROZEN

    alias: str
    from_version: int | None = None
    to_version: int | None = None
    reason: str = ""
    gates: list[GateResult] = Field(default_factory=list)
    forced: bool = False
    actor: str | None = None
    created_at: float


class PromoteRequest(BaseModel):
    """The body of ``PUT /models/{name}/aliases/{alias}``: which version the alias moves to, and why."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="A version number, an alias, or 'latest'.")
    reason: str = Field("", max_length=2000)
    force: bool = Field(
        False,
        description="Skip the gates of a protected alias (needs models:force; the move is audited as forced).",
    )


class PromotionResult(BaseModel):
    model_config = _FROZEN

    promoted: bool
    ref: str
    alias: str
    previous: int | None = None
    gates: list[GateResult] = Field(default_factory=list)
    forced: bool = False


class AliasProtectionCreate(BaseModel):
    """The body of ``PUT /models/{name}/protections/{alias}``: the suite whose required gates guard the alias.

    The suite travels and is stored as its YAML text, so editing or deleting the file later
    changes nothing; it may not read local files (its dataset and few-shot examples are
    registered datasets, named by ``ref``), because the gates run wherever the store is.
    """

    model_config = ConfigDict(extra="forbid")

    suite: str = Field(min_length=1, max_length=200_000, description="The eval suite, as YAML text.")
    baseline_alias: str | None = Field(
        None,
        description="Compare candidates with the holder of this alias (default: the protected alias itself).",
    )
    reason: str = Field("", max_length=2000)


class AliasProtection(BaseModel):
    """A protected alias: it moves only when the stored suite's required gates pass (or by a forced move)."""

    model_config = _FROZEN

    project: str
    name: str
    alias: str
    suite_name: str
    suite_sha256: str = Field(description="sha256 of the stored suite text.")
    suite: str = Field(description="The stored suite YAML.")
    baseline_alias: str
    reason: str = ""
    created_at: float
    created_by: str | None = None


class LineageEdge(BaseModel):
    model_config = _FROZEN

    src_type: str
    src_id: str
    relation: str
    dst_type: str
    dst_id: str
    label: str | None = Field(None, description="A readable name for the far end (a ref), when known.")


class LineageNode(BaseModel):
    """One entity in the walked-back tree: what it is, how it fed its parent, and what fed it."""

    model_config = _FROZEN

    type: str = Field(description="model_version, run, dataset_version, feedback, trace, …")
    id: str
    label: str | None = Field(None, description="A readable name (a ref for versions), when known.")
    relation: str | None = Field(None, description="How this entity fed its parent; none at the root.")
    repeated: bool = Field(
        False, description="Shown in full earlier in the tree (a shared source); its children are left out."
    )
    children: list[LineageNode] = Field(default_factory=list)


class Lineage(BaseModel):
    model_config = _FROZEN

    ref: str
    upstream: list[LineageEdge] = Field(description="Everything the version came from, walked back.")
    downstream: list[LineageEdge] = Field(
        description="What used the version: evaluations, runs, deployments."
    )
    tree: LineageNode | None = Field(
        None, description="``upstream`` as a tree rooted at the version, back to the original data."
    )


class ModelCard(BaseModel):
    model_config = _FROZEN

    ref: str
    markdown: str


class ModelList(BaseModel):
    model_config = _CONFIG

    items: list[Model]


class VersionList(BaseModel):
    model_config = _CONFIG

    items: list[ModelVersion]


class AliasHistory(BaseModel):
    model_config = _CONFIG

    items: list[AliasEvent]


class ProtectionList(BaseModel):
    model_config = _CONFIG

    items: list[AliasProtection]
