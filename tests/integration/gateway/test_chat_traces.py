"""``ll.chat`` leaves the trace a gateway request leaves: the same spans with the same attribute keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.integration.gateway.conftest import flush_for

import llmloop as ll
from llmloop.errors import NotFound
from llmloop.services.observe import semconv
from llmloop.services.observe.tracer import flush
from llmloop.services.registry import service as registry

ASK = [{"role": "user", "content": "Where should I travel in May?"}]


@pytest.fixture
def tiny(gw: Any, tiny_llama_dir: Path) -> str:
    version = registry.register_base(gw.app.state.ctx, name="tiny", path=str(tiny_llama_dir))
    return version.ref


def _shape(trace: dict[str, Any]) -> dict[str, set[str]]:
    return {s["name"]: set(s["attributes"]) for s in trace["spans"]}


def _trace(gw: Any, trace_id: str) -> dict[str, Any]:
    flush()
    flush_for(gw.app.state.ctx)
    r = gw.get(f"/api/v1/traces/{trace_id}")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.mark.parametrize("stream", [False, True])
def test_ll_chat_is_traced_with_the_gateways_spans(gw: Any, tiny: str, stream: bool) -> None:
    body = {"model": tiny, "messages": ASK, "max_tokens": 5, "temperature": 0, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    served = gw.post("/v1/chat/completions", json=body)
    assert served.status_code == 200, served.text
    by_gateway = _trace(gw, served.headers["x-llmloop-trace-id"])

    out = ll.chat(model=tiny, messages=ASK, max_tokens=5, temperature=0, stream=stream)  # type: ignore[call-overload]
    text = "".join(c.choices[0].delta.content or "" for c in out if c.choices) if stream else None
    flush()
    page = gw.get("/api/v1/traces", params={"model": tiny}).json()
    ids = [t["trace_id"] for t in page["items"] if t["trace_id"] != by_gateway["trace_id"]]
    assert len(ids) == 1, page  # the request ll.chat made is found by the model it asked for
    by_sdk = _trace(gw, ids[0])

    assert _shape(by_sdk) == _shape(by_gateway)
    root = next(s for s in by_sdk["spans"] if s["parent_span_id"] is None)
    assert root["name"] == "gateway chat" and root["status_code"] == "ok"
    keys = {
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.GEN_AI_INPUT_MESSAGES,
        semconv.GEN_AI_OUTPUT_MESSAGES,
        semconv.GEN_AI_RESPONSE_MODEL,
        semconv.LLMLOOP_LATENCY_MS,
    }
    assert keys <= set(root["attributes"])
    assert (semconv.LLMLOOP_TTFT_MS in root["attributes"]) is stream
    assert root["attributes"][semconv.GEN_AI_REQUEST_MODEL] == tiny
    model_span = by_sdk["spans"][[s["name"] for s in by_sdk["spans"]].index(f"chat {tiny}")]
    assert model_span["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] >= 1
    assert by_sdk["output_tokens"] == model_span["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
    if stream:
        assert text is not None and text in root["attributes"][semconv.GEN_AI_OUTPUT_MESSAGES]


def test_a_refused_ll_chat_leaves_an_error_trace(gw: Any) -> None:
    with pytest.raises(NotFound):
        ll.chat(model="nope", messages=ASK)
    flush()
    page = gw.get("/api/v1/traces", params={"model": "nope", "status": "error"}).json()
    assert len(page["items"]) == 1 and page["items"][0]["name"] == "gateway chat"


def test_with_a_server_ll_chat_goes_through_its_gateway(live_server: Any, tiny_llama_dir: Path) -> None:
    """The remote client posts to the server's /v1/chat/completions: it resolves, serves and traces there."""
    import time

    from llmloop.client import RemoteClient
    from llmloop.config import Settings, get_settings
    from llmloop.context import local_context
    from llmloop.engines.schemas import ChatRequest
    from llmloop.errors import InvalidInput
    from llmloop.services.observe.schemas import TraceSearch

    tiny = registry.register_base(local_context(), name="tiny", path=str(tiny_llama_dir)).ref
    remote = RemoteClient(Settings(home=get_settings().home, server_url=live_server.url))  # type: ignore[call-arg]
    request = ChatRequest.model_validate({"messages": ASK, "max_tokens": 4, "temperature": 0})
    done = remote.deployments.chat(tiny, request)
    chunks = list(remote.deployments.stream_chat(tiny, request))
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == done.choices[0].message.content
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == done.usage.completion_tokens
    deadline = time.time() + 20
    while len(remote.traces.list_traces(TraceSearch(model=tiny)).items) < 2:  # the server writes in batches
        assert time.time() < deadline, "the server recorded no trace of the two requests"
        time.sleep(0.2)
    with pytest.raises(NotFound, match="tiny@9"):
        remote.deployments.chat("tiny@9", request)
    with pytest.raises(InvalidInput, match="engine"):
        remote.deployments.chat(tiny, request, engine="llamacpp")
