"""The prompt registry's contract, shared by the SDK, the CLI (``--json``) and ``/api/v1/prompts``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "developer", "user", "assistant"]
VarType = Literal["string", "integer", "number", "boolean", "list", "object", "any"]
Strategy = Literal["fixed", "random", "semantic"]
MAX_MESSAGES = 100
MAX_INLINE_EXAMPLES = 10_000

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)


class Message(BaseModel):
    """One chat message template; ``content`` is a Jinja2 template."""

    model_config = _CONFIG

    role: Role
    content: str = Field(max_length=100_000)


class Variable(BaseModel):
    """A declared template variable. A non-null ``default`` makes it optional (so does ``required: false``)."""

    model_config = _CONFIG

    type: VarType = "string"
    required: bool = True
    default: Any = None
    description: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _default_means_optional(self) -> Variable:
        if self.default is not None:
            self.required = False
        return self


class PromptParams(BaseModel):
    """Default model parameters (OpenAI names); a run may override any of them."""

    model_config = _CONFIG

    model: str | None = Field(None, max_length=256, description="Default model or deployment to run on.")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    stop: list[str] | None = Field(None, max_length=16)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = None


class FewShot(BaseModel):
    """Where few-shot examples come from, how they are chosen and how many tokens they may take.

    Selected examples reach the template as the variable named ``variable`` (a list of
    dicts); for chat prompts, ``messages`` (templates over an example's fields) are also
    inserted after the leading system messages, once per example. Examples are dropped
    whole, least relevant first, to fit ``max_tokens`` and ``context_window``.
    """

    model_config = _CONFIG

    strategy: Strategy = "fixed"
    examples: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_INLINE_EXAMPLES)
    examples_from: str | None = Field(
        None, max_length=300, description="A dataset reference (NAME@VERSION) resolved by the example source."
    )
    k: int | None = Field(None, ge=1, le=100, description="How many examples (fixed: default all; else 3).")
    seed: int = Field(0, description="random: the seed, so a version always picks the same examples.")
    query_variable: str | None = Field(None, description="semantic: the variable whose value is the query.")
    key: str = Field("input", description="semantic: the example field that is embedded.")
    messages: list[Message] | None = Field(None, max_length=10, description="chat: messages per example.")
    variable: str = Field("examples", description="The name the selected examples have in the template.")
    max_tokens: int | None = Field(None, ge=1, description="Token budget of the examples.")
    context_window: int | None = Field(
        None, ge=1, description="The model's context: prompt + params.max_tokens must fit in it."
    )

    @model_validator(mode="after")
    def _one_source(self) -> FewShot:
        if bool(self.examples) == bool(self.examples_from):
            raise ValueError("give either examples (a list) or examples_from (a dataset reference)")
        if self.strategy == "semantic" and not self.query_variable:
            raise ValueError("the semantic strategy needs query_variable: the variable to match examples to")
        return self


class PromptCreate(BaseModel):
    """A new version of a prompt: ``messages`` (chat) or ``template`` (text), never both."""

    model_config = _CONFIG

    project: str = "default"
    name: str
    messages: list[Message] | None = Field(None, min_length=1, max_length=MAX_MESSAGES)
    template: str | None = Field(None, max_length=100_000)
    variables: dict[str, Variable] = Field(default_factory=dict)
    params: PromptParams = Field(default_factory=PromptParams)
    few_shot: FewShot | None = None
    description: str = Field("", max_length=2000)
    message: str = Field("", max_length=2000, description="The commit message of this version.")

    @field_validator("variables", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        """``{"city": "string"}`` is short for ``{"city": {"type": "string"}}``."""
        if isinstance(v, dict):
            return {k: {"type": t} if isinstance(t, str) else t for k, t in v.items()}
        return v

    @model_validator(mode="after")
    def _one_body(self) -> PromptCreate:
        if (self.messages is None) == (self.template is None):
            raise ValueError("give either messages (a chat prompt) or template (a text prompt)")
        return self


class PromptVersion(BaseModel):
    """One immutable version of a prompt, as users read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    project: str
    name: str
    version: int
    kind: Literal["chat", "text"]
    messages: list[Message] | None = None
    template: str | None = None
    variables: dict[str, Variable] = Field(default_factory=dict)
    params: PromptParams = Field(default_factory=PromptParams)
    few_shot: FewShot | None = None
    description: str = ""
    message: str = ""
    content_hash: str
    created_at: float
    created_by: str | None = None
    aliases: list[str] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class PromptSummary(BaseModel):
    model_config = _CONFIG

    project: str
    name: str
    latest_version: int
    description: str = ""
    aliases: dict[str, int] = Field(default_factory=dict)
    updated_at: float


class PromptPage(BaseModel):
    model_config = _CONFIG

    items: list[PromptSummary]


class AliasUpdate(BaseModel):
    model_config = _CONFIG

    version: int = Field(ge=1)


class PromptDiff(BaseModel):
    model_config = _CONFIG

    project: str
    from_ref: str
    to_ref: str
    changed: list[str] = Field(description="Top-level fields that differ (messages, variables, params, …).")
    diff: str = Field(description="A unified diff of the two versions' canonical YAML.")


class RenderRequest(BaseModel):
    model_config = _CONFIG

    project: str = "default"
    variables: dict[str, Any] = Field(default_factory=dict)
    context_window: int | None = Field(None, ge=1, description="Overrides few_shot.context_window.")


class RenderedPrompt(BaseModel):
    model_config = _CONFIG

    ref: str
    kind: Literal["chat", "text"]
    messages: list[dict[str, str]] = Field(
        description="OpenAI-style messages (a text prompt is one user message)."
    )
    text: str | None = Field(None, description="The rendered text of a text prompt.")
    params: dict[str, Any] = Field(default_factory=dict)
    examples: list[dict[str, Any]] = Field(default_factory=list, description="Few-shot examples used.")
    examples_dropped: int = Field(0, description="Examples left out to fit the token budget.")
    prompt_tokens: int | None = Field(None, description="Estimated prompt tokens, when a budget applied.")


class PromptRunRequest(BaseModel):
    model_config = _CONFIG

    project: str = "default"
    variables: dict[str, Any] = Field(default_factory=dict)
    model: str | None = Field(None, max_length=256, description="Overrides params.model.")
    deployment: str | None = Field(
        None,
        max_length=256,
        description="Run on this deployment of the prompt's project instead of a model, through the "
        "gateway's routing (its split, guardrails and limits); only on a server.",
    )
    params: PromptParams = Field(default_factory=PromptParams, description="Overrides the prompt's params.")
    save_run: bool = Field(False, description="Record the call as a run (kind 'prompt').")


class PromptRunResult(BaseModel):
    model_config = _CONFIG

    ref: str
    model: str | None = Field(description="The model asked for; on a deployment, the version that answered.")
    deployment: str | None = None
    model_version: str | None = Field(
        None, description="NAME@VERSION of the model that answered, when known."
    )
    messages: list[dict[str, str]]
    params: dict[str, Any]
    output: str
    latency_ms: float
    trace_id: str
    run_id: str | None = None
