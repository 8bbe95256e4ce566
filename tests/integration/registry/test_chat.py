"""``ll.chat``: a registered reference answers OpenAI-shaped, streamed or not, on the engine asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import llmloop as ll
from llmloop.errors import InvalidInput, NotFound

ASK = [{"role": "user", "content": "Pick a beach for March."}]


@pytest.fixture
def tiny_ref(isolated_home: Path, tiny_llama_dir: Path) -> str:
    return ll.models.add_base("tiny", tiny_llama_dir).ref


def test_chat_is_openai_shaped_and_streams_the_same_text(tiny_ref: str) -> None:
    done = ll.chat(model=tiny_ref, messages=ASK, max_tokens=6, temperature=0)
    body: dict[str, Any] = done.model_dump()
    assert body["object"] == "chat.completion" and body["model"] == tiny_ref
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert (
        body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert 1 <= body["usage"]["completion_tokens"] <= 6
    chunks = list(ll.chat(model="tiny", messages=ASK, max_tokens=6, temperature=0, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == done.choices[0].message.content
    )


def test_bad_requests_are_named(tiny_ref: str) -> None:
    with pytest.raises(NotFound, match="nope"):
        ll.chat(model="nope", messages=ASK)
    with pytest.raises(InvalidInput, match="temperature"):
        ll.chat(model=tiny_ref, messages=ASK, temperature=7)
    with pytest.raises(InvalidInput, match="engine"):
        ll.chat(model=tiny_ref, messages=ASK, engine="tensorflow")


@pytest.mark.slow
def test_the_packaged_default_registers_itself_and_answers_on_both_local_engines(isolated_home: Path) -> None:
    capital = [{"role": "user", "content": "What is the capital of France?"}]
    for engine in ("llamacpp", "transformers"):
        out = ll.chat(
            model="smollm2-135m-instruct", messages=capital, engine=engine, max_tokens=16, temperature=0
        )
        assert out.usage.completion_tokens >= 3 and out.choices[0].message.content.strip()
    assert [m.name for m in ll.models.list()] == ["smollm2-135m-instruct"]
