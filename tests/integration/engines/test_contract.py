"""The behaviour every ``InferenceEngine`` owes its callers, checked on each engine that can run here.

transformers (a tiny random Llama), llama.cpp (the packaged SmolLM2 GGUF), the OpenAI upstream
and the vLLM client (both against the fake OpenAI server): each is built through the
``llmloop.engines`` registry, as ``load_engine`` does. Budgets are a few tokens, so the suite
stays fast; the engines' own files test what only they do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from tests.fakes.openai_server import FakeOpenAI, serving

from llmloop.engines import registry, schemas
from llmloop.engines.protocol import InferenceEngine
from llmloop.engines.spec import ModelSpec, Upstream
from llmloop.errors import InvalidInput, Unavailable

KINDS = ["transformers", "llamacpp", "openai", "vllm"]
UPSTREAM_KINDS = {"openai", "vllm"}
LONG = "Tell me a long story about the sea and the ships that sail on it"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serving() as server:
        yield server


@pytest.fixture(scope="module")
def make_spec(
    request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    def make(kind: str) -> ModelSpec:
        if kind == "transformers":
            torch.set_num_threads(2)
            folder = request.getfixturevalue("tiny_llama_dir")
            return ModelSpec(
                ref="contract@1",
                key="contract-tf",
                base_kind="hf_dir",
                base=str(folder),
                options={"device": "cpu"},
            )
        if kind == "llamacpp":
            gguf: Path = request.getfixturevalue("smollm2_gguf")
            return ModelSpec(
                ref="contract@1",
                key="contract-gguf",
                base_kind="gguf",
                base=str(gguf),
                context_length=512,
                options={"n_ctx": "512"},
            )
        up = Upstream(base_url=fake.url, model="base", timeout_s=5.0, max_retries=0)
        adapter = str(tmp_path_factory.mktemp("adapter")) if kind == "vllm" else None
        return ModelSpec(
            ref="contract@1",
            key="contract-up",
            base_kind="upstream",
            base="base",
            upstream=up,
            adapter_dir=adapter,
            adapter_name="contract-lora" if adapter else None,
        )

    return make


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def engine(kind: str, make_spec: Any) -> Iterator[InferenceEngine]:
    eng = registry.create(kind, make_spec(kind))
    yield eng
    eng.close()


def chat(text: str, **kw: Any) -> schemas.ChatRequest:
    return schemas.ChatRequest(messages=[{"role": "user", "content": text}], temperature=0, **kw)


def test_it_is_an_inference_engine_of_its_kind(engine: InferenceEngine, kind: str) -> None:
    assert isinstance(engine, InferenceEngine) and engine.kind == kind and engine.model == "contract@1"


def test_streamed_chat_concatenates_to_the_full_answer(engine: InferenceEngine) -> None:
    req = chat("Hello, who are you?", max_tokens=8)
    full = schemas.collect_chat(engine.chat(req))
    chunks = list(engine.chat(req.model_copy(update={"stream": True})))
    assert full.choices[0].message.content
    assert (
        "".join(ch.delta.content or "" for c in chunks for ch in c.choices) == full.choices[0].message.content
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage == full.usage  # the last chunk carries the usage
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == [
        full.choices[0].finish_reason
    ]
    assert {c.model for c in chunks} == {full.model} == {"contract@1"}


def test_streamed_completion_concatenates_to_the_full_text(engine: InferenceEngine) -> None:
    req = schemas.CompletionRequest(prompt="The sea is", max_tokens=6, temperature=0)
    full = schemas.collect_completion(engine.complete(req))
    chunks = list(engine.complete(req.model_copy(update={"stream": True})))
    assert full.choices[0].text
    assert "".join(ch.text for c in chunks for ch in c.choices) == full.choices[0].text
    assert chunks[-1].usage == full.usage


def test_max_tokens_is_respected(engine: InferenceEngine) -> None:
    out = schemas.collect_chat(engine.chat(chat(LONG, max_tokens=3)))
    assert 1 <= out.usage.completion_tokens <= 3
    if out.choices[0].finish_reason == "length":
        assert out.usage.completion_tokens == 3
    text = schemas.collect_completion(engine.complete(schemas.CompletionRequest(prompt=LONG, max_tokens=2)))
    assert 1 <= text.usage.completion_tokens <= 2


def test_a_stop_sequence_ends_the_answer_before_it(engine: InferenceEngine) -> None:
    full = schemas.collect_chat(engine.chat(chat(LONG, max_tokens=8))).choices[0].message.content
    assert len(full) >= 4, f"the answer is too short to cut: {full!r}"
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    expected = full[: full.find(stop)]
    req = chat(LONG, max_tokens=8, stop=[stop])
    cut = schemas.collect_chat(engine.chat(req))
    assert cut.choices[0].message.content == expected and cut.choices[0].finish_reason == "stop"
    streamed = list(engine.chat(req.model_copy(update={"stream": True})))
    assert "".join(ch.delta.content or "" for c in streamed for ch in c.choices) == expected


def test_usage_counts_are_present_and_consistent(engine: InferenceEngine) -> None:
    short = schemas.collect_chat(engine.chat(chat("Hi", max_tokens=4))).usage
    long = schemas.collect_chat(engine.chat(chat(LONG, max_tokens=4))).usage
    for u in (short, long):
        assert u.prompt_tokens > 0 and u.completion_tokens > 0
        assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert long.prompt_tokens > short.prompt_tokens
    emb = engine.embed(schemas.EmbeddingRequest(input=["cat", "a dog"]))
    assert [d.index for d in emb.data] == [0, 1] and len(emb.data[0].embedding) == len(emb.data[1].embedding)
    assert emb.usage.prompt_tokens > 0 and emb.model == "contract@1"


@pytest.mark.parametrize(
    "field", [{"n": 2}, {"tools": [{"type": "function", "function": {"name": "f"}}]}], ids=["n", "tools"]
)
def test_what_no_engine_honours_is_refused_before_any_work(
    engine: InferenceEngine, fake: FakeOpenAI, field: dict[str, Any]
) -> None:
    before = len(fake.requests)
    body = {"messages": [{"role": "user", "content": "x"}], **field}
    with pytest.raises(InvalidInput, match=f"{next(iter(field))}: .*not supported|only n=1"):
        list(engine.chat(schemas.ChatRequest.model_validate(body)))
    assert len(fake.requests) == before  # nothing reached an upstream


def test_a_closed_engine_refuses_further_calls(kind: str, make_spec: Any) -> None:
    eng = registry.create(kind, make_spec(kind))
    eng.close()
    with pytest.raises(Unavailable, match="released"):
        list(eng.chat(chat("x", max_tokens=2)))
    with pytest.raises(Unavailable, match="released"):
        list(eng.complete(schemas.CompletionRequest(prompt="x", max_tokens=2)))
    with pytest.raises(Unavailable, match="released"):
        eng.embed(schemas.EmbeddingRequest(input="x"))
