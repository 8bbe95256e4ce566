"""Eval suites: a YAML file naming data, prompt, metrics, generation settings and gates.

    name: travel-recommendations
    project: travel
    dataset: {ref: travel-eval@1, split: test}      # or {path: items.jsonl} next to this file
    prompt: {ref: travel-recommend@champion}        # or {template: "...{question}"} / {messages: [...]}
    metrics:
      - {metric: travel_recommendation_correctness, key: task_accuracy}
      - rougeL
      - latency
    generation: {batch_size: 8, max_new_tokens: 96, temperature: 0.0}
    gates:
      - task_accuracy >= 0.6
      - rougeL not worse than champion by more than 0.01 (95% CI)
      - p95 latency <= 500ms

Every key is documented by its ``Field``; unknown keys are errors that name the key path and the
closest valid key, so a typo never silently drops a setting.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmloop.errors import InvalidInput
from llmloop.validation import format_validation_error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldMap(_Strict):
    """Which row fields play which part; the rest of a row are template variables."""

    id: str = Field("id", description="Field holding a stable example id (default: the row number).")
    reference: str | None = Field(
        None,
        description="Field holding the reference answer(s); default: reference, references, answer, completion, output, target.",
    )
    metadata: str = Field("metadata", description="Field holding an object handed to task metrics.")
    messages: str = Field(
        "messages", description="Field holding chat messages, used when the suite has no prompt."
    )


class DatasetSource(_Strict):
    """Where the examples come from: a registered dataset version or a local JSONL file."""

    ref: str | None = Field(None, description="Dataset reference NAME, NAME@VERSION or NAME@ALIAS.")
    path: str | None = Field(None, description="Local JSONL file, relative to the suite file.")
    split: str | None = Field(None, description="Split of a registered dataset (e.g. test).")
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N examples.")
    fields: FieldMap = Field(default_factory=FieldMap)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSource:
        if (self.ref is None) == (self.path is None):
            raise ValueError("give exactly one of 'ref' (a registered dataset) or 'path' (a JSONL file)")
        return self


class FewShot(_Strict):
    """Worked examples placed before each question as earlier user/assistant turns."""

    ref: str | None = Field(None, description="Dataset reference to draw examples from.")
    path: str | None = Field(None, description="Local JSONL file of examples, relative to the suite file.")
    split: str | None = None
    k: int = Field(3, ge=0, le=64, description="How many examples.")
    seed: int = Field(0, description="Seed of the random pick, so every run shows the same examples.")
    fields: FieldMap = Field(default_factory=FieldMap)

    @model_validator(mode="after")
    def _one_source(self) -> FewShot:
        if (self.ref is None) == (self.path is None):
            raise ValueError("give exactly one of 'ref' or 'path' for few-shot examples")
        return self


class PromptSource(_Strict):
    """How a row becomes chat messages: a registered prompt, a template, or a list of message templates."""

    ref: str | None = Field(None, description="Prompt reference NAME, NAME@VERSION or NAME@ALIAS.")
    template: str | None = Field(None, description="User message with {field} placeholders.")
    system: str | None = Field(None, description="System message for 'template'.")
    messages: list[dict[str, str]] | None = Field(
        None, description="[{role, content}] with {field} placeholders."
    )
    few_shot: FewShot | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PromptSource:
        given = [k for k in ("ref", "template", "messages") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'ref', 'template' or 'messages'")
        if self.system is not None and self.template is None:
            raise ValueError("'system' goes with 'template'")
        return self


class MetricSpec(_Strict):
    metric: str = Field(description="Registered metric name (see `llmloop eval metrics`).")
    key: str | None = Field(
        None, description="Name of this metric in results and gates (default: the metric name)."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Options the metric takes.")

    @property
    def name(self) -> str:
        return self.key or self.metric


class GenerationParams(_Strict):
    batch_size: int = Field(8, ge=1, le=1024, description="Prompts per generate call.")
    max_new_tokens: int = Field(128, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0, description="0 means greedy.")
    top_p: float | None = Field(None, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Engine-specific parameters, passed through."
    )

    def as_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature}
        if self.top_p is not None:
            out["top_p"] = self.top_p
        if self.stop:
            out["stop"] = list(self.stop)
        if self.seed is not None:
            out["seed"] = self.seed
        out.update(self.extra)
        return out


class GateSpec(_Strict):
    rule: str = Field(description="e.g. 'task_accuracy >= 0.6' (see llmloop.services.evaluate.gates).")
    required: bool = Field(
        True, description="A failing advisory (required: false) gate is reported but does not fail."
    )


class BootstrapSettings(_Strict):
    n_resamples: int = Field(1000, ge=100, le=100000)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


class Suite(_Strict):
    name: str = Field(description="Suite name; evaluations are grouped by it.")
    description: str = ""
    project: str | None = Field(None, description="Project for results (default: LLMLOOP_DEFAULT_PROJECT).")
    dataset: DatasetSource
    prompt: PromptSource | None = Field(None, description="Without it, rows need 'messages' or 'prompt'.")
    metrics: list[MetricSpec] = Field(min_length=1)
    generation: GenerationParams = Field(default_factory=GenerationParams)
    gates: list[GateSpec] = Field(default_factory=list)
    bootstrap: BootstrapSettings = Field(default_factory=BootstrapSettings)
    base_dir: str | None = Field(None, description="Set by the loader: folder relative paths start from.")

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset_shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"path": v} if v.endswith((".jsonl", ".json")) else {"ref": v}
        return v

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt_shorthand(cls, v: Any) -> Any:
        return {"ref": v} if isinstance(v, str) else v

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_shorthand(cls, v: Any) -> Any:
        return [{"metric": m} if isinstance(m, str) else m for m in v] if isinstance(v, list) else v

    @field_validator("gates", mode="before")
    @classmethod
    def _gate_shorthand(cls, v: Any) -> Any:
        return [{"rule": g} if isinstance(g, str) else g for g in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _unique_keys(self) -> Suite:
        seen: set[str] = set()
        for m in self.metrics:
            if m.name in seen:
                raise ValueError(f"metric key {m.name!r} appears twice; give one of them another 'key'")
            seen.add(m.name)
        return self

    def resolve_path(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() or self.base_dir is None else Path(self.base_dir) / p

    def public_dict(self) -> dict[str, Any]:
        """The suite as JSON; option values that are Python objects (a judge callable) become their repr."""
        body: dict[str, Any] = self.model_dump(mode="json", exclude={"base_dir"}, fallback=repr)
        return body

    def sha256(self) -> str:
        """Identity of what the suite measures (everything but its location and description)."""
        body = self.public_dict()
        body.pop("description", None)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def parse_suite(data: Any, *, source: str = "<suite>", base_dir: Path | None = None) -> Suite:
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{source}: a suite is a mapping of keys (name, dataset, metrics, …)", details={"file": source}
        )
    if "base_dir" in data:
        raise InvalidInput(f"{source}: unknown key 'base_dir'", details={"file": source, "key": "base_dir"})
    try:
        return Suite.model_validate({**data, "base_dir": str(base_dir) if base_dir else None})
    except ValidationError as e:
        raise format_validation_error(e, where=source, model=Suite, details={"file": source}) from None


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite YAML file; errors name the file and key path."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise InvalidInput(f"cannot read suite {p}: {e.strerror}", details={"file": str(p)}) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidInput(
            f"{p}: not valid YAML (line {line}): {getattr(e, 'problem', e)}",
            details={"file": str(p), "line": line},
        ) from e
    return parse_suite(data, source=str(p), base_dir=p.resolve().parent)
