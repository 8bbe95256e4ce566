"""The openai and vllm engines against a real HTTP server on 127.0.0.1 with switchable faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.fakes.openai_server import FakeOpenAI, serving

from llmloop.engines import schemas
from llmloop.engines.openai_upstream import OpenAIEngine
from llmloop.engines.spec import ModelSpec, Upstream
from llmloop.engines.vllm_engine import VLLMEngine
from llmloop.errors import InvalidInput, NotFound, RateLimited, Unavailable


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with serving() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset(server: FakeOpenAI) -> None:
    server.reset()


def spec(server: FakeOpenAI, **kw: object) -> ModelSpec:
    up = {"base_url": server.url, "model": "base", "timeout_s": 2.0, "max_retries": 2, **kw}
    return ModelSpec(ref="up@1", key="k" * 32, base_kind="upstream", base="base", upstream=Upstream(**up))  # type: ignore[arg-type]


HELLO = schemas.ChatRequest(messages=[{"role": "user", "content": "hello there"}])


def test_chat_non_streaming_and_streaming_agree(server: FakeOpenAI) -> None:
    eng = OpenAIEngine(spec(server))
    full = schemas.collect_chat(eng.chat(HELLO))
    assert full.choices[0].message.content == "echo: hello there"
    assert full.model == "up@1" and full.usage.completion_tokens == 3
    chunks = list(eng.chat(HELLO.model_copy(update={"stream": True})))
    assert len(chunks) > 3
    streamed = schemas.collect_chat(chunks)
    assert streamed.choices[0].message.content == full.choices[0].message.content
    assert streamed.usage == full.usage and streamed.choices[0].finish_reason == "stop"
    assert server.requests[-1][1]["model"] == "base"  # the upstream's own name
    eng.close()


def test_completion_and_embeddings(server: FakeOpenAI) -> None:
    eng = OpenAIEngine(spec(server))
    out = schemas.collect_completion(eng.complete(schemas.CompletionRequest(prompt="abc")))
    assert out.choices[0].text == "echo: abc" and out.usage.completion_tokens == 2
    emb = eng.embed(schemas.EmbeddingRequest(input=["a", "abcd"]))
    assert [d.embedding[0] for d in emb.data] == [1.0, 4.0]
    eng.close()


def test_api_key_asked_of_its_source_at_each_request(server: FakeOpenAI) -> None:
    keys = ["sk-secret-123"]

    def source() -> str:
        if not keys:
            raise Unavailable("the upstream key (secret 'k') is not usable")
        return keys[0]

    eng = OpenAIEngine(spec(server, api_key=source))
    list(eng.chat(HELLO))
    assert server.headers[-1]["authorization"] == "Bearer sk-secret-123"
    keys.clear()  # revoked: the next request sends nothing and says why, naming the upstream
    n = len(server.requests)
    with pytest.raises(Unavailable, match=r"upstream http://127\.0\.0\.1:\d+/v1: the upstream key"):
        list(eng.chat(HELLO))
    assert len(server.requests) == n
    eng.close()


def test_upstream_errors_never_carry_credentials(server: FakeOpenAI) -> None:
    """The URL is masked in every message, and so is what an upstream echoes back (its 4xx/5xx text)."""
    url = server.url.replace("http://", "http://bob:hunter2@")
    server.faults.fail_times, server.faults.fail_status = 5, 500
    eng = OpenAIEngine(spec(server, base_url=url, max_retries=0))
    with pytest.raises(Unavailable) as e:
        list(eng.chat(HELLO))
    assert "hunter2" not in str(e.value) and "hunter2" not in str(e.value.details)
    assert "bob:****@" in e.value.message
    eng.close()
    msg = eng.client.error(
        401, '{"error": {"message": "bad key: Bearer sk-live-abcdef123456 for ?token=zz"}}'
    )
    assert "abcdef123456" not in msg.message and "zz" not in msg.message and "Bearer ****" in msg.message


def test_500s_then_ok_are_retried(server: FakeOpenAI) -> None:
    server.faults.fail_times = 2
    eng = OpenAIEngine(spec(server))
    assert schemas.collect_chat(eng.chat(HELLO)).choices[0].message.content == "echo: hello there"
    assert len(server.requests) == 3
    eng.close()


def test_429s_then_ok_are_retried(server: FakeOpenAI) -> None:
    server.faults.fail_times, server.faults.fail_status = 2, 429
    eng = OpenAIEngine(spec(server))
    assert schemas.collect_chat(eng.chat(HELLO)).choices[0].message.content == "echo: hello there"
    assert len(server.requests) == 3
    eng.close()


def test_persistent_429_gives_up_after_retries(server: FakeOpenAI) -> None:
    server.faults.status = 429
    eng = OpenAIEngine(spec(server, max_retries=1))
    with pytest.raises(RateLimited, match="HTTP 429 after 2 attempt"):
        list(eng.chat(HELLO))
    assert len(server.requests) == 2
    eng.close()


def test_timeout_is_unavailable_not_a_hang(server: FakeOpenAI) -> None:
    server.faults.delay_s = 3.0
    eng = OpenAIEngine(spec(server, timeout_s=0.5))
    t0 = time.perf_counter()
    with pytest.raises(Unavailable, match="timed out"):
        list(eng.chat(HELLO))
    assert time.perf_counter() - t0 < 2.5
    eng.close()


def test_stream_stall_is_unavailable(server: FakeOpenAI) -> None:
    server.faults.stream_stall_s = 1.5
    eng = OpenAIEngine(spec(server, timeout_s=0.5))
    with pytest.raises(Unavailable, match="stalled"):
        list(eng.chat(HELLO.model_copy(update={"stream": True})))
    eng.close()


@pytest.mark.parametrize("garbage", ["text", "shape"])
def test_garbage_is_unavailable(server: FakeOpenAI, garbage: str) -> None:
    server.faults.garbage = garbage
    eng = OpenAIEngine(spec(server))
    what = "not JSON" if garbage == "text" else "not an OpenAI"
    with pytest.raises(Unavailable, match=f"{what}( ChatCompletion)?$"):
        list(eng.chat(HELLO))
    with pytest.raises(Unavailable, match=f"{what}( EmbeddingResponse)?$"):
        eng.embed(schemas.EmbeddingRequest(input="x"))
    eng.close()


def test_connection_refused_is_unavailable() -> None:
    up = Upstream(base_url="http://127.0.0.1:9/v1", model="m", timeout_s=1.0, max_retries=1)
    eng = OpenAIEngine(ModelSpec(ref="x@1", key="k", base_kind="upstream", base="m", upstream=up))
    with pytest.raises(Unavailable, match=r"cannot connect .* after 2 attempt"):
        list(eng.chat(HELLO))
    eng.close()


def test_upstream_400_is_invalid_input(server: FakeOpenAI) -> None:
    server.faults.status = 400
    eng = OpenAIEngine(spec(server))
    with pytest.raises(InvalidInput, match="refused the request"):
        list(eng.chat(HELLO))
    assert len(server.requests) == 1  # not retried
    eng.close()


def test_upstream_404_is_not_found_and_not_retried(server: FakeOpenAI) -> None:
    server.faults.status = 404
    eng = OpenAIEngine(spec(server))
    with pytest.raises(NotFound, match="HTTP 404"):
        list(eng.chat(HELLO))
    assert len(server.requests) == 1
    eng.close()


def test_vllm_registers_the_adapter_and_addresses_it(server: FakeOpenAI, tmp_path: object) -> None:
    s = ModelSpec(
        ref="ft@3",
        key="abcdef" * 6,
        base_kind="upstream",
        base="base",
        adapter_dir=str(tmp_path),
        adapter_name="travel-ft-3",
        upstream=Upstream(base_url=server.url, model="base", timeout_s=2.0),
    )
    eng = VLLMEngine(s)
    assert server.adapters["travel-ft-3"] == str(tmp_path)
    schemas.collect_chat(eng.chat(HELLO))
    assert server.requests[-1][1]["model"] == "travel-ft-3"
    VLLMEngine(s).close()  # a second load of the same adapter: "already loaded" is fine
    eng.close()


def test_vllm_without_runtime_lora_is_a_clear_error(server: FakeOpenAI, tmp_path: object) -> None:
    server.faults.status = 404
    s = ModelSpec(
        ref="ft@3",
        key="0123456789abcdef" * 2,
        base_kind="upstream",
        base="base",
        adapter_dir=str(tmp_path),
        upstream=Upstream(base_url=server.url, model="base"),
    )
    with pytest.raises(Unavailable, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING"):
        VLLMEngine(s)
