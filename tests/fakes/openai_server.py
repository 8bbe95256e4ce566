"""The one fake OpenAI-compatible server for tests (and the gateway benchmark), on a real 127.0.0.1 socket.

It answers at once and deterministically: ``echo: <last user message>`` for chat,
``echo: <prompt>`` for completions, one token per word (prompt tokens: the words of the JSON
of the messages or prompt), streamed word by word when asked; ``max_tokens`` cuts the answer
(``finish_reason="length"``) and ``stop`` sequences end it (``"stop"``) as a real engine would.
Model ``leak`` answers with an e-mail address the prompt never had (output guardrails); model
``shout`` echoes in capitals (a second opinion that differs, for a shadow target).

Faults, so the upstream client's and the gateway's handling meet a real socket:

- ``fake.faults`` applies to every request: ``delay_s`` (wait before answering: with a long
  delay, a timeout), ``fail_times`` answers of ``fail_status`` (500, or 429...) then OK,
  ``status`` (always this status), ``garbage`` (``"text"``: a body that is not JSON;
  ``"shape"``: JSON, not OpenAI's shape), ``stream_stall_s`` (a pause before each streamed chunk).
- A model name picks a fault for its requests alone (a deployment can mix good and bad targets
  on one server): ``fail`` answers 500, ``hang`` never answers, ``garbage`` is not JSON,
  ``slow`` waits 0.3 s (``MODEL_FAULTS``).

``requests`` records (endpoint, body) of every request, ``headers`` their headers, ``counts``
requests per model (also at ``GET /stats``, the benchmark's health check), ``adapters`` every
LoRA registered through vLLM's ``/v1/load_lora_adapter``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import free_port
from tests.fakes.server_thread import ServerThread

LEAK = "write to ann@example.org for the details"


@dataclass
class Faults:
    delay_s: float = 0.0
    fail_times: int = 0
    fail_status: int = 500
    status: int | None = None
    garbage: str | None = None  # "text" (not JSON) or "shape" (JSON, wrong shape)
    stream_stall_s: float = 0.0


MODEL_FAULTS: dict[str, Faults] = {
    "fail": Faults(status=500),
    "hang": Faults(delay_s=3600.0),
    "garbage": Faults(garbage="text"),
    "slow": Faults(delay_s=0.3),
}


def answer_text(body: dict[str, Any], chat: bool) -> str:
    if body.get("model") == "leak":
        return LEAK
    if chat:
        users = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        last = users[-1].get("content", "") if users else ""
        text = last if isinstance(last, str) else json.dumps(last)
    else:
        prompt = body.get("prompt", "")
        text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
    return f"ECHO: {text.upper()}" if body.get("model") == "shout" else f"echo: {text}"


def generate(text: str, max_tokens: int | None, stop: str | list[str] | None) -> tuple[list[str], str]:
    """The answer's pieces (one per word, the first without its space) and why it ended."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    words = text.split(" ")
    pieces: list[str] = []
    sent = ""
    for i, word in enumerate(words):
        piece = word if i == 0 else " " + word
        hits = [j for j in (f"{sent}{piece}".find(s) for s in stops) if j >= 0]
        if hits:
            cut = f"{sent}{piece}"[len(sent) : min(hits)]
            return [*pieces, cut] if cut else pieces, "stop"
        pieces.append(piece)
        sent += piece
        if max_tokens is not None and len(pieces) >= max_tokens and i < len(words) - 1:
            return pieces, "length"
    return pieces, "stop"


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


class FakeOpenAI:
    def __init__(self) -> None:
        self.faults = Faults()
        self.model_faults = {k: dataclasses.replace(v) for k, v in MODEL_FAULTS.items()}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.adapters: dict[str, str] = {}
        self.url = ""  # ends in /v1, once serving
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/completions", self._complete, methods=["POST"]),
                Route("/v1/embeddings", self._embed, methods=["POST"]),
                Route("/v1/load_lora_adapter", self._load_lora, methods=["POST"]),
                Route("/stats", self._stats, methods=["GET"]),
            ]
        )

    def reset(self) -> None:
        """No faults, nothing recorded (between tests sharing one server)."""
        self.faults = Faults()
        self.requests.clear()
        self.headers.clear()
        self.counts.clear()

    async def _gate(self, endpoint: str, request: Request) -> tuple[dict[str, Any], Response | None]:
        """The request's body, and the faulty response to send instead of an answer, if any."""
        body = await request.json()
        model = str(body.get("model", ""))
        self.requests.append((endpoint, body))
        self.headers.append(dict(request.headers))
        self.counts[model] += 1
        for f in (self.faults, self.model_faults.get(model)):
            if f is None:
                continue
            if f.delay_s:
                await asyncio.sleep(f.delay_s)
            if f.fail_times > 0:
                f.fail_times -= 1
                return body, _error(f.fail_status)
            if f.status is not None:
                return body, _error(f.status)
            if f.garbage == "text":
                return body, Response("<html>not json</html>", media_type="text/html")
            if f.garbage == "shape":
                return body, JSONResponse({"hello": "world"})
        return body, None

    async def _generate(self, endpoint: str, request: Request, chat: bool) -> Response:
        body, fault = await self._gate(endpoint, request)
        if fault is not None:
            return fault
        model = str(body.get("model", ""))
        pieces, finish = generate(answer_text(body, chat), body.get("max_tokens"), body.get("stop"))
        prompt_tokens = _tokens(json.dumps(body.get("messages") or body.get("prompt")))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(pieces),
            "total_tokens": prompt_tokens + len(pieces),
        }
        rid, created = f"cmpl-{time.time_ns()}", int(time.time())
        if body.get("stream"):
            want_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = self._events(rid, created, model, pieces, finish, usage if want_usage else None, chat)
            return StreamingResponse(events, media_type="text/event-stream")
        text = "".join(pieces)
        if chat:
            choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
        else:
            choice = {"index": 0, "text": text}
        choice.update(finish_reason=finish, logprobs=None)
        obj = "chat.completion" if chat else "text_completion"
        return JSONResponse(
            {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
        )

    async def _events(
        self,
        rid: str,
        created: int,
        model: str,
        pieces: list[str],
        finish: str,
        usage: dict[str, int] | None,
        chat: bool,
    ) -> AsyncIterator[bytes]:
        obj = "chat.completion.chunk" if chat else "text_completion"

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        for i, piece in enumerate(pieces or [""]):
            if self.faults.stream_stall_s:
                await asyncio.sleep(self.faults.stream_stall_s)
            last = i == max(len(pieces), 1) - 1
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish if last else None}
            if chat:
                choice["delta"] = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            else:
                choice["text"] = piece
            yield event([choice])
        if usage is not None:
            yield event([], usage=usage)
        yield b"data: [DONE]\n\n"

    async def _chat(self, request: Request) -> Response:
        return await self._generate("chat", request, chat=True)

    async def _complete(self, request: Request) -> Response:
        return await self._generate("completions", request, chat=False)

    async def _embed(self, request: Request) -> Response:
        body, fault = await self._gate("embeddings", request)
        if fault is not None:
            return fault
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(str(t))), 1.0, 0.5]}
            for i, t in enumerate(texts)
        ]
        n = sum(_tokens(str(t)) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": n, "total_tokens": n},
            }
        )

    async def _load_lora(self, request: Request) -> Response:
        body, fault = await self._gate("load_lora_adapter", request)
        if fault is not None:
            return fault
        name = body["lora_name"]
        if name in self.adapters:
            return _error(400, f"The lora adapter '{name}' has already been loaded.")
        self.adapters[name] = body["lora_path"]
        return Response(f"Success: LoRA adapter '{name}' added successfully.")

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(dict(self.counts))


def _error(status: int, message: str | None = None) -> JSONResponse:
    text = message or f"fake upstream failure (HTTP {status})"
    return JSONResponse({"error": {"message": text, "type": "server_error"}}, status_code=status)


@contextlib.contextmanager
def serving() -> Iterator[FakeOpenAI]:
    """A fake server running on a free port for the block; ``fake.url`` is its base URL ending in /v1."""
    fake = FakeOpenAI()
    with ServerThread(fake.app, free_port()) as srv:
        fake.url = f"{srv.url}/v1"
        yield fake
