"""A tiny OpenAI-compatible server that echoes, for demos, tests and the gateway benchmark.

It answers instantly with ``echo: <last user message>`` (streamed word by word when asked),
counts one token per word, and misbehaves on request through the model name, so the
gateway's fault handling can be exercised against a real socket: ``fail`` answers 500,
``hang`` never answers, ``garbage`` sends a body that is not JSON, ``slow`` waits 0.3 s.
``GET /stats`` says how many requests each model received (shadow traffic is visible there).
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

LEAK = "write to ann@example.org for the details"  # what model 'leak' says: PII the prompt never had


def _answer(body: dict[str, Any], chat: bool) -> str:
    if body.get("model") == "leak":
        return LEAK
    if chat:
        users = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        last = users[-1].get("content", "") if users else ""
        text = last if isinstance(last, str) else json.dumps(last)
    else:
        prompt = body.get("prompt", "")
        text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
    return f"echo: {text}"


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


class EchoUpstream:
    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/completions", self._complete, methods=["POST"]),
                Route("/v1/embeddings", self._embed, methods=["POST"]),
                Route("/stats", self._stats, methods=["GET"]),
            ]
        )

    async def _misbehave(self, model: str) -> Response | None:
        if model == "fail":
            return JSONResponse(
                {"error": {"message": "upstream exploded", "type": "server_error"}}, status_code=500
            )
        if model == "hang":
            await asyncio.sleep(3600)
        if model == "garbage":
            return Response(b"<html>not json", media_type="application/json")
        if model == "slow":
            await asyncio.sleep(0.3)
        return None

    async def _run(self, request: Request, chat: bool) -> Response:
        body = await request.json()
        model = str(body.get("model", ""))
        self.counts[model] += 1
        bad = await self._misbehave(model)
        if bad is not None:
            return bad
        text = _answer(body, chat)
        prompt_tokens = _tokens(json.dumps(body.get("messages") or body.get("prompt")))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": _tokens(text),
            "total_tokens": prompt_tokens + _tokens(text),
        }
        rid, created = f"cmpl-{time.time_ns()}", int(time.time())
        if body.get("stream"):
            want_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._chunks(rid, created, model, text, usage, chat, want_usage),
                media_type="text/event-stream",
            )
        if chat:
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
            obj = "text_completion"
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

    async def _chunks(
        self,
        rid: str,
        created: int,
        model: str,
        text: str,
        usage: dict[str, int],
        chat: bool,
        want_usage: bool,
    ) -> AsyncIterator[bytes]:
        obj = "chat.completion.chunk" if chat else "text_completion"
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            if chat:
                delta: dict[str, Any] = {"content": piece}
                if i == 0:
                    delta["role"] = "assistant"
                choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
            else:
                choice = {"index": 0, "text": piece, "finish_reason": None}
            if i == len(words) - 1:
                choice["finish_reason"] = "stop"
            chunk = {"id": rid, "object": obj, "created": created, "model": model, "choices": [choice]}
            yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
        if want_usage:
            chunk = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def _chat(self, request: Request) -> Response:
        return await self._run(request, chat=True)

    async def _complete(self, request: Request) -> Response:
        return await self._run(request, chat=False)

    async def _embed(self, request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model", ""))
        self.counts[model] += 1
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(str(t))), 1.0, 0.5]}
            for i, t in enumerate(texts)
        ]
        n = sum(_tokens(str(t)) for t in texts)
        return JSONResponse(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": n, "total_tokens": n}}
        )

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(dict(self.counts))


class ServerThread:
    """Run an ASGI app with uvicorn on a background thread (127.0.0.1, the given port)."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="error",
                access_log=False,
                lifespan="auto",  # an app with a lifespan (the gateway) closes its connections at exit
                timeout_graceful_shutdown=1,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("echo upstream did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
