"""Helpers shared by the local engines (transformers, llama.cpp): token ids in, OpenAI chunks out.

A local engine generates token ids; ``text_pieces`` turns them into ``Piece``s of text with
stop sequences applied, ``fit_context`` decides what fits the model's context, and
``chat_chunks`` / ``completion_chunks`` wrap the pieces as OpenAI chunks (the last carrying
``finish_reason`` and ``usage``), so both engines stream, stop and count exactly alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from llmloop.engines.schemas import (
    ChatCompletionChunk,
    ChunkChoice,
    ChunkDelta,
    CompletionChoice,
    FinishReason,
    Sampling,
    TextCompletionChunk,
    Usage,
)
from llmloop.errors import InvalidInput


@dataclass(frozen=True)
class Piece:
    """A step of local generation: new text, and on the last step why it ended and the token counts."""

    text: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def chat_chunks(model: str, pieces: Iterable[Piece]) -> Iterator[ChatCompletionChunk]:
    """OpenAI chat chunks from local pieces: a role chunk, content chunks, a final chunk with usage."""
    cid, created = new_id("chatcmpl"), int(time.time())

    def chunk(
        delta: ChunkDelta, finish: str | None = None, usage: Usage | None = None
    ) -> ChatCompletionChunk:
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        return ChatCompletionChunk(id=cid, created=created, model=model, choices=[choice], usage=usage)

    yield chunk(ChunkDelta(role="assistant", content=""))
    for p in pieces:
        if p.text:
            yield chunk(ChunkDelta(content=p.text))
        if p.finish_reason is not None:
            yield chunk(ChunkDelta(), p.finish_reason, Usage.of(p.prompt_tokens, p.completion_tokens))
            return


def completion_chunks(model: str, pieces: Iterable[Piece]) -> Iterator[TextCompletionChunk]:
    """OpenAI text-completion chunks from local pieces; the last carries finish_reason and usage."""
    cid, created = new_id("cmpl"), int(time.time())
    for p in pieces:
        if p.text:
            yield TextCompletionChunk(
                id=cid, created=created, model=model, choices=[CompletionChoice(text=p.text)]
            )
        if p.finish_reason is not None:
            yield TextCompletionChunk(
                id=cid,
                created=created,
                model=model,
                choices=[CompletionChoice(text="", finish_reason=p.finish_reason)],
                usage=Usage.of(p.prompt_tokens, p.completion_tokens),
            )
            return


def fit_context(
    prompt_ids: list[int], sampling: Sampling, context_length: int | None
) -> tuple[list[int], int]:
    """The prompt and token budget that fit the context, or ``InvalidInput`` saying by how much not.

    A prompt that fits is answered with ``max_tokens`` lowered to the room left (the answer then
    ends with ``finish_reason="length"``). A prompt that leaves no room is an error naming both
    numbers, unless the request asked ``truncation="auto"``: then the oldest tokens are dropped,
    keeping room for up to half the context (or ``max_tokens`` if smaller) of answer.
    """
    n = len(prompt_ids)
    if context_length is None:
        return prompt_ids, sampling.max_tokens
    if n < context_length:
        return prompt_ids, min(sampling.max_tokens, context_length - n)
    if sampling.truncation != "auto":
        raise InvalidInput(
            f"the prompt has {n} tokens but the model's context length is {context_length}: "
            "shorten it, or ask for truncation='auto' to drop its oldest tokens",
            details={"field": "messages", "prompt_tokens": n, "context_length": context_length},
        )
    room = min(sampling.max_tokens, max(1, context_length // 2))
    return prompt_ids[n - (context_length - room) :], room


class StopScanner:
    """Finds stop sequences in streamed text, holding back any tail that could begin one."""

    def __init__(self, stops: list[str]) -> None:
        self._stops = stops
        self._hold = max((len(s) for s in stops), default=1) - 1
        self._buf = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Text safe to emit now; sets ``stopped`` when a stop sequence appeared (it is not emitted)."""
        if self.stopped:
            return ""
        self._buf += text
        if not self._stops:
            out, self._buf = self._buf, ""
            return out
        hits = [i for i in (self._buf.find(s) for s in self._stops) if i >= 0]
        if hits:
            self.stopped = True
            out, self._buf = self._buf[: min(hits)], ""
            return out
        cut = len(self._buf) - self._hold
        if cut <= 0:
            return ""
        out, self._buf = self._buf[:cut], self._buf[cut:]
        return out

    def flush(self) -> str:
        out, self._buf = ("" if self.stopped else self._buf), ""
        return out


def text_pieces(
    tokens: Iterable[int | tuple[str, str]],
    decode: Callable[[list[int]], str],
    stops: list[str],
    prompt_tokens: int,
) -> Iterator[Piece]:
    """Pieces of text from a local engine's token ids, ending with ``("end", reason)``; stops applied.

    The whole answer is decoded at each token (tokenizers merge pieces across token
    boundaries) and only the new suffix is sent; a tail that is half a UTF-8 character, or
    could be the start of a stop sequence, waits for the next token. Stopping early
    (a stop sequence) just returns: the caller cancels generation when the iterator closes.
    """
    scanner = StopScanner(stops)
    generated: list[int] = []
    sent = ""
    for item in tokens:
        if isinstance(item, tuple):
            yield Piece(scanner.flush(), cast(FinishReason, item[1]), prompt_tokens, len(generated))
            return
        generated.append(item)
        text = decode(generated)
        if text.endswith("\ufffd"):
            continue
        out = scanner.feed(text[len(sent) :])
        sent = text
        if scanner.stopped:
            yield Piece(out, "stop", prompt_tokens, len(generated))
            return
        if out:
            yield Piece(out)
