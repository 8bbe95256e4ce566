"""load_engine: default engine per base kind, one loaded engine per (kind, weights), idle release."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.fakes.openai_server import FakeOpenAI, serving

import llmloop.engines as engines
from llmloop.engines import schemas
from llmloop.engines.spec import ModelSpec, Upstream
from llmloop.errors import InvalidInput, NotFound, Unavailable


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with serving() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    previous = engines.set_idle_timeout(600)
    yield
    engines.release_all()
    engines.set_idle_timeout(previous)


def upstream_spec(server: FakeOpenAI, key: str = "up") -> ModelSpec:
    return ModelSpec(
        ref="u@1", key=key, base_kind="upstream", base="base", upstream=Upstream(server.url, "base")
    )


def test_default_kinds() -> None:
    gguf = ModelSpec(ref="g@1", key="g", base_kind="gguf", base="x.gguf")
    assert engines.default_kind(gguf) == "llamacpp"  # llama-cpp-python is installed here
    assert engines.default_kind(
        ModelSpec(ref="g@2", key="g2", base_kind="gguf", base="x.gguf", adapter_dir="a")
    ) == ("transformers")
    assert engines.default_kind(ModelSpec(ref="h@1", key="h", base_kind="hf_dir", base="d")) == "transformers"
    assert engines.default_kind(ModelSpec(ref="u@1", key="u", base_kind="upstream", base="m")) == "openai"
    pinned = ModelSpec(ref="h@1", key="h", base_kind="hf_dir", base="d", default_engine="vllm")
    assert engines.default_kind(pinned) == "vllm"


def test_engines_are_cached_per_kind_and_key(server: FakeOpenAI) -> None:
    spec = upstream_spec(server)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: engines.load_engine(spec), range(8)))
    assert all(e is got[0] for e in got)
    assert engines.load_engine(upstream_spec(server, key="other")) is not got[0]
    assert engines.load_engine(spec, "vllm") is not got[0]
    assert sorted(engines.loaded()) == [("openai", "other"), ("openai", "up"), ("vllm", "up")]
    assert isinstance(got[0], engines.InferenceEngine)


def test_idle_engines_are_released(server: FakeOpenAI) -> None:
    spec = upstream_spec(server)
    first = engines.load_engine(spec)
    engines.set_idle_timeout(0.2)
    deadline = time.time() + 5
    while engines.loaded() and time.time() < deadline:  # the background reaper does it
        time.sleep(0.05)
    assert engines.loaded() == []
    second = engines.load_engine(spec)
    assert second is not first
    assert schemas.collect_chat(
        second.chat(schemas.ChatRequest(messages=[{"role": "user", "content": "x"}]))
    ).usage


def test_released_transformers_engine_refuses_new_work(tiny_llama_dir: Path) -> None:
    spec = ModelSpec(ref="t@1", key="tiny", base_kind="hf_dir", base=str(tiny_llama_dir))
    eng = engines.load_engine(spec)
    assert engines.release_idle(now=time.monotonic() + 601) == [("transformers", "tiny")]
    with pytest.raises(Unavailable, match="released"):
        eng.chat(schemas.ChatRequest(messages=[{"role": "user", "content": "x"}]))


def test_bad_choices_are_clear(tmp_path: Path) -> None:
    spec = ModelSpec(ref="h@1", key="h", base_kind="hf_dir", base=str(tmp_path))
    with pytest.raises(InvalidInput, match="engine 'tgi' is unknown"):
        engines.load_engine(spec, "tgi")
    with pytest.raises(NotFound, match=r"config.json"):
        engines.load_engine(spec)
    assert engines.loaded() == []  # nothing half-loaded stays cached
    with pytest.raises(InvalidInput, match="needs an upstream"):
        engines.load_engine(spec, "openai")
    with pytest.raises(InvalidInput, match="serves GGUF files"):
        engines.load_engine(spec, "llamacpp")
    with pytest.raises(InvalidInput, match="positive"):
        engines.set_idle_timeout(0)
