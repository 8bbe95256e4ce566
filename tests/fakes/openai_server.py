"""A real OpenAI-compatible HTTP server on 127.0.0.1 with switchable faults, for the upstream engines' tests.

It runs uvicorn in a thread. Answers are deterministic (``answer: <last user message>``),
streamed word by word when asked, one token per word. ``faults`` changes behaviour for the
next requests: ``delay_s`` (sleep before answering), ``fail_times`` (that many 500s, then OK),
``status`` (always this status), ``garbage`` (a body that is not JSON, or not OpenAI's shape).
``requests`` records every body received, ``adapters`` every LoRA registered.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass
class Faults:
    delay_s: float = 0.0
    fail_times: int = 0
    status: int | None = None
    garbage: str | None = None  # "text" (not JSON) or "shape" (JSON, wrong shape)
    stream_stall_s: float = 0.0  # sleep between streamed chunks


@dataclass
class FakeOpenAI:
    faults: Faults = field(default_factory=Faults)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    adapters: dict[str, str] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        async def gate(path: str, request: Request) -> tuple[dict[str, Any], Response | None]:
            body = await request.json() if request.method == "POST" else {}
            self.requests.append((path, body))
            self.headers.append(dict(request.headers))
            f = self.faults
            if f.delay_s:
                await asyncio.sleep(f.delay_s)
            if f.fail_times > 0:
                f.fail_times -= 1
                return body, JSONResponse({"error": {"message": "boom"}}, status_code=500)
            if f.status is not None:
                return body, JSONResponse({"error": {"message": f"status {f.status}"}}, status_code=f.status)
            if f.garbage == "text":
                return body, Response("<html>not json</html>", media_type="text/html")
            if f.garbage == "shape":
                return body, JSONResponse({"hello": "world"})
            return body, None

        @app.get("/v1/models")
        async def models(request: Request) -> Any:
            _, fault = await gate("models", request)
            return fault or {"object": "list", "data": [{"id": "base", "object": "model"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            body, fault = await gate("chat", request)
            if fault:
                return fault
            users = [m for m in body["messages"] if m["role"] == "user"]
            words = f"answer: {users[-1]['content'] if users else ''}".split()
            words = words[: body.get("max_tokens") or len(words)]
            finish = "length" if len(words) < len(f"answer: {users[-1]['content']}".split()) else "stop"
            usage = {"prompt_tokens": 3, "completion_tokens": len(words), "total_tokens": 3 + len(words)}
            base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body["model"]}
            if body.get("stream"):
                return StreamingResponse(
                    self._chat_stream(base, words, finish, usage), media_type="text/event-stream"
                )
            return {
                **base,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": " ".join(words)},
                        "finish_reason": finish,
                    }
                ],
                "usage": usage,
            }

        @app.post("/v1/completions")
        async def completions(request: Request) -> Any:
            body, fault = await gate("completions", request)
            if fault:
                return fault
            text = f" continued {body['prompt']}"
            return {
                "id": "cmpl-fake",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            }

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Any:
            body, fault = await gate("embeddings", request)
            if fault:
                return fault
            inputs = [body["input"]] if isinstance(body["input"], str) else body["input"]
            data = [
                {"index": i, "object": "embedding", "embedding": [float(len(t)), 1.0]}
                for i, t in enumerate(inputs)
            ]
            return {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }

        @app.post("/v1/load_lora_adapter")
        async def load_lora(request: Request) -> Any:
            body, fault = await gate("load_lora_adapter", request)
            if fault:
                return fault
            if body["lora_name"] in self.adapters:
                return JSONResponse(
                    {
                        "error": {
                            "message": f"The lora adapter '{body['lora_name']}' has already been loaded."
                        }
                    },
                    status_code=400,
                )
            self.adapters[body["lora_name"]] = body["lora_path"]
            return Response(f"Success: LoRA adapter '{body['lora_name']}' added successfully.")

        return app

    async def _chat_stream(
        self, base: dict[str, Any], words: list[str], finish: str, usage: dict[str, int]
    ) -> AsyncIterator[bytes]:
        def event(obj: dict[str, Any]) -> bytes:
            return f"data: {json.dumps(obj)}\n\n".encode()

        chunk = {**base, "object": "chat.completion.chunk"}
        yield event({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        for i, w in enumerate(words):
            if self.faults.stream_stall_s:
                await asyncio.sleep(self.faults.stream_stall_s)
            text = w if i == 0 else " " + w
            yield event(
                {**chunk, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
            )
        yield event({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        yield event({**chunk, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve() -> Iterator[FakeOpenAI]:
    """Start a fake server (a generator for a pytest fixture): yields it running, stops it after."""
    fake = FakeOpenAI()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("fake OpenAI server did not start")
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(10)
