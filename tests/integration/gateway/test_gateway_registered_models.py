"""Registered models served through /v1 by reference and by deployment, with the real openai client.

The tiny Llama (SmolLM2's tokenizer, random weights) answers quickly on the transformers engine;
one slow test serves the packaged SmolLM2 through a deployment, streamed, as a user would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from tests.integration.gateway.conftest import deploy, flush_for

from llmloop.services.registry import service as registry

ASK = [{"role": "user", "content": "Where should I travel in May?"}]


def _client(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=gw, max_retries=0)


@pytest.fixture
def tiny(gw: Any, tiny_llama_dir: Path) -> str:
    ctx = gw.app.state.ctx
    version = registry.register_base(ctx, name="tiny", path=str(tiny_llama_dir))
    registry.promote_model(ctx, ref=version.ref, alias="champion", project=version.project)
    return version.ref


def test_a_registered_model_is_servable_by_reference(gw: Any, tiny: str) -> None:
    client = _client(gw)
    raw = client.chat.completions.with_raw_response.create(
        model="tiny@champion", messages=ASK, max_tokens=8, temperature=0
    )
    done = raw.parse()
    assert raw.headers["x-llmloop-trace-id"]
    assert done.usage is not None and 1 <= done.usage.completion_tokens <= 8
    assert done.usage.prompt_tokens > 5 and done.choices[0].finish_reason in ("stop", "length")
    streamed = client.chat.completions.create(
        model="tiny",
        messages=ASK,
        max_tokens=8,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(streamed)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == done.choices[0].message.content  # greedy: the same weights, the same answer
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == done.usage.completion_tokens
    assert {"tiny", "tiny@champion"} <= {m.id for m in client.models.list().data}
    with pytest.raises(openai.NotFoundError, match="tiny@7"):
        client.chat.completions.create(model="tiny@7", messages=ASK)


def test_a_deployment_routes_to_a_registered_alias(gw: Any, tiny: str) -> None:
    deploy(gw, "assistant", {"targets": [{"model": "tiny@champion"}]})
    raw = _client(gw).chat.completions.with_raw_response.create(
        model="assistant", messages=ASK, max_tokens=4, temperature=0
    )
    assert raw.parse().usage.completion_tokens >= 1  # type: ignore[union-attr]
    flush_for(gw.app.state.ctx)
    trace = gw.get(f"/api/v1/traces/{raw.headers['x-llmloop-trace-id']}").json()
    assert trace["model"] == "assistant" and trace["status"] == "ok"
    assert any(s["name"] == "chat tiny@champion" for s in trace["spans"])


@pytest.mark.slow
def test_the_packaged_model_answers_a_streaming_openai_client(gw: Any) -> None:
    deploy(gw, "travel-bot", {"targets": [{"model": "smollm2-135m-instruct"}]})
    stream = _client(gw).chat.completions.create(
        model="travel-bot",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=24,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 3  # token by token
    assert text.strip() and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 3
