"""The OpenAI-shaped requests and responses every engine speaks, and the folding of chunks into responses.

Requests validate like OpenAI's API does, but fail as ``InvalidInput`` naming the field, never
as a raw Pydantic error: the gateway, the SDK and the CLI render it in one place. Fields OpenAI
accepts that no engine here honours (tools, logprobs, response_format, ``n>1``, logit_bias...)
are refused with a message saying so, instead of being silently ignored. Engines always yield
chunks, the last of which carries ``finish_reason`` and ``usage``; ``collect_chat`` /
``collect_completion`` fold them into the full response, so streaming and non-streaming callers
share one code path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmloop.errors import InvalidInput
from llmloop.validation import format_validation_error

DEFAULT_MAX_TOKENS = 256
MAX_STOP_SEQUENCES = 4
Truncation = Literal["disabled", "auto"]
FinishReason = Literal["stop", "length"]

_UNSUPPORTED = {
    "tools": "tool calling",
    "tool_choice": "tool calling",
    "functions": "function calling",
    "function_call": "function calling",
    "logprobs": "log probabilities",
    "top_logprobs": "log probabilities",
    "response_format": "structured output (response_format)",
    "echo": "echo",
    "best_of": "best_of",
    "suffix": "suffix (insertion)",
    "audio": "audio output",
    "modalities": "modalities",
    "prediction": "predicted outputs",
}


class _Model(BaseModel):
    """Pydantic model whose construction errors are ``InvalidInput`` naming the field."""

    model_config = ConfigDict(extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise format_validation_error(
                e, where=type(self).__name__, model=type(self), detail_name="field"
            ) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as e:
            raise format_validation_error(e, where=cls.__name__, model=cls, detail_name="field") from None


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---------------------------------------------------------------- requests


class ChatMessage(_Model):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    def text(self) -> str:
        """The content as one string; OpenAI's list-of-parts form is accepted for text parts only."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        out = []
        for part in self.content:
            if part.get("type") != "text":
                raise InvalidInput(
                    f"messages: content part of type {part.get('type')!r} is not supported; only text",
                    details={"field": "messages"},
                )
            out.append(str(part.get("text", "")))
        return "".join(out)


class _Sampling(_Model):
    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = 1
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    max_completion_tokens: int | None = Field(None, ge=1)  # OpenAI's newer name for max_tokens
    # Declared so that a gateway passing only known fields still hands them over to be refused.
    tools: Any = None
    tool_choice: Any = None
    functions: Any = None
    function_call: Any = None
    logprobs: Any = None
    top_logprobs: Any = None
    response_format: Any = None
    echo: Any = None
    best_of: Any = None
    suffix: Any = None
    audio: Any = None
    modalities: Any = None
    prediction: Any = None
    # llmloop's own: what to do with a prompt longer than the context (OpenAI Responses' name).
    truncation: Truncation = "disabled"

    @model_validator(mode="after")
    def _check(self) -> Self:
        for key, what in _UNSUPPORTED.items():
            harmless = (None, False, 1) if key == "best_of" else (None, False)
            if getattr(self, key) not in harmless:
                raise ValueError(f"{key}: {what} is not supported by llmloop's engines")
        if self.n != 1:
            raise ValueError(f"n: only n=1 is supported (got {self.n}); send several requests instead")
        if self.logit_bias:
            raise ValueError("logit_bias: not supported by llmloop's engines")
        if isinstance(self.stop, list):
            if len(self.stop) > MAX_STOP_SEQUENCES:
                raise ValueError(f"stop: at most {MAX_STOP_SEQUENCES} sequences (got {len(self.stop)})")
            if any(not s for s in self.stop):
                raise ValueError("stop: sequences must be non-empty strings")
        elif self.stop == "":
            raise ValueError("stop: sequences must be non-empty strings")
        return self

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def sampling(self) -> Sampling:
        return Sampling(
            max_tokens=self.max_tokens or self.max_completion_tokens or DEFAULT_MAX_TOKENS,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=self.stop_list(),
            seed=self.seed,
            truncation=self.truncation,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
        )


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    model_config = ConfigDict(extra="forbid")

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.text()} for m in self.messages]


class CompletionRequest(_Sampling):
    prompt: str | list[str]

    @model_validator(mode="after")
    def _one_prompt(self) -> Self:
        if isinstance(self.prompt, list) and len(self.prompt) != 1:
            raise ValueError("prompt: send one prompt per request (a list must hold exactly one string)")
        return self

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class EmbeddingRequest(_Model):
    model: str | None = None
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float"] = "float"
    dimensions: int | None = None
    user: str | None = None

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


@dataclass(frozen=True)
class Sampling:
    """What a local engine needs from a request to generate: validated, defaults filled."""

    max_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    seed: int | None
    truncation: Truncation = "disabled"
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


# ---------------------------------------------------------------- responses


class Usage(_Response):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt: int, completion: int) -> Usage:
        return cls(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


class AssistantMessage(_Response):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(_Response):
    index: int = 0
    message: AssistantMessage
    finish_reason: str | None


class ChatCompletion(_Response):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class ChunkDelta(_Response):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(_Response):
    index: int = 0
    delta: ChunkDelta
    finish_reason: str | None = None


class ChatCompletionChunk(_Response):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class CompletionChoice(_Response):
    index: int = 0
    text: str
    finish_reason: str | None = None


class TextCompletion(_Response):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class TextCompletionChunk(_Response):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class Embedding(_Response):
    index: int
    object: Literal["embedding"] = "embedding"
    embedding: list[float]


class EmbeddingUsage(_Response):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(_Response):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


# ---------------------------------------------------------------- chunks into responses


def collect_chat(chunks: Iterable[ChatCompletionChunk]) -> ChatCompletion:
    """The full chat completion from a stream of chunks (the last must carry usage)."""
    parts: list[str] = []
    last: ChatCompletionChunk | None = None
    finish: str | None = None
    usage: Usage | None = None
    for c in chunks:
        last = c
        for ch in c.choices:
            parts.append(ch.delta.content or "")
            finish = ch.finish_reason or finish
        usage = c.usage or usage
    if last is None:
        raise InvalidInput("the engine returned no chunks")  # pragma: no cover - engines always yield
    return ChatCompletion(
        id=last.id,
        created=last.created,
        model=last.model,
        choices=[ChatChoice(message=AssistantMessage(content="".join(parts)), finish_reason=finish)],
        usage=usage or Usage.of(0, 0),
    )


def collect_completion(chunks: Iterable[TextCompletionChunk]) -> TextCompletion:
    """The full text completion from a stream of chunks."""
    parts: list[str] = []
    last: TextCompletionChunk | None = None
    finish: str | None = None
    usage: Usage | None = None
    for c in chunks:
        last = c
        for ch in c.choices:
            parts.append(ch.text)
            finish = ch.finish_reason or finish
        usage = c.usage or usage
    if last is None:
        raise InvalidInput("the engine returned no chunks")  # pragma: no cover
    return TextCompletion(
        id=last.id,
        created=last.created,
        model=last.model,
        choices=[CompletionChoice(text="".join(parts), finish_reason=finish)],
        usage=usage or Usage.of(0, 0),
    )
