"""``InferenceEngine``: the one interface behind every way llmloop generates text.

transformers, llama.cpp, vLLM and any OpenAI-compatible upstream implement it, and so can a
third-party engine registered under the ``llmloop.engines`` entry-point group
(``llmloop.engines.registry``). The shapes it takes and returns live in
``llmloop.engines.schemas``; ``tests/integration/engines/test_contract.py`` is the behaviour
every implementation must show (streaming equals non-streaming at temperature 0, stops,
``max_tokens``, usage, refusal after ``close``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from llmloop.engines.schemas import (
    ChatCompletionChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    TextCompletionChunk,
)
from llmloop.errors import Unavailable


@runtime_checkable
class InferenceEngine(Protocol):
    """One loaded model behind one engine; safe to call from many threads at once.

    ``chat`` and ``complete`` always return an iterator of chunks (one chunk when not streaming),
    the last carrying ``finish_reason`` and ``usage``. After ``close`` every call is
    ``Unavailable`` (``closed``), never a crash inside a released library.
    """

    kind: str
    model: str  # the reference responses name in their ``model`` field

    def chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]: ...

    def complete(self, request: CompletionRequest) -> Iterator[TextCompletionChunk]: ...

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse: ...

    def close(self) -> None: ...


@runtime_checkable
class GroupChat(Protocol):
    """An engine that can take many chat requests as one batch, admitted together, so that a batch's
    answers do not depend on which of its threads arrived first (evaluation asks this when it can)."""

    def chat_group(self, requests: Sequence[ChatRequest]) -> list[Iterator[ChatCompletionChunk]]: ...


def closed(model: str) -> Unavailable:
    """What an engine raises when called after ``close``: the cache releases idle engines, so say how to recover."""
    return Unavailable(f"{model}: the engine was released (closed); load it again", details={"model": model})
