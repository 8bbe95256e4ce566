"""The transformers engine on a tiny config-built Llama: batching, streaming, stops, seeds, adapters, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from tests.model_fixtures import build_tiny_llama, build_tiny_lora

from llmloop.engines import schemas
from llmloop.engines.batcher import PREFIX_MIN_TOKENS, Job
from llmloop.engines.spec import ModelSpec
from llmloop.engines.transformers_engine import TransformersEngine
from llmloop.errors import InvalidInput, NotFound


def tiny_spec(folder: Path, **kw: object) -> ModelSpec:
    return ModelSpec(ref="tiny@1", key=f"tiny-{kw}", base_kind="hf_dir", base=str(folder), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine(tiny_llama_dir: Path) -> Iterator[TransformersEngine]:
    torch.set_num_threads(2)
    eng = TransformersEngine(tiny_spec(tiny_llama_dir, options={"device": "cpu"}))
    yield eng
    eng.close()


def ask(text: str, **kw: object) -> schemas.ChatRequest:
    return schemas.ChatRequest(messages=[{"role": "user", "content": text}], **kw)  # type: ignore[arg-type]


def answer(eng: TransformersEngine, req: schemas.ChatRequest) -> schemas.ChatCompletion:
    return schemas.collect_chat(eng.chat(req))


def test_chat_streams_chunks_ending_with_usage(engine: TransformersEngine) -> None:
    req = ask("Tell me about llamas", temperature=0, max_tokens=12)
    chunks = list(engine.chat(req))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len([c for c in chunks if c.choices[0].delta.content]) >= 2  # token by token
    last = chunks[-1]
    assert last.usage is not None and last.choices[0].finish_reason in ("length", "stop")
    assert last.usage.prompt_tokens == len(engine.chat_prompt_ids(req))
    assert last.usage.completion_tokens <= 12
    full = answer(engine, req)
    assert full.choices[0].message.content == "".join(c.choices[0].delta.content or "" for c in chunks)
    assert full.model == "tiny@1"


def test_max_tokens_ends_with_length(engine: TransformersEngine) -> None:
    out = answer(engine, ask("count", temperature=0, max_tokens=5))
    assert out.usage.completion_tokens == 5 and out.choices[0].finish_reason == "length"


def test_text_completion(engine: TransformersEngine) -> None:
    out = schemas.collect_completion(
        engine.complete(schemas.CompletionRequest(prompt="Once upon", max_tokens=4, temperature=0))
    )
    assert out.usage.completion_tokens == 4 and out.choices[0].text


def test_concurrent_greedy_answers_equal_sequential_ones(engine: TransformersEngine) -> None:
    prompts = [f"Question number {i}: {'why ' * i}is the sky blue?" for i in range(8)]
    reqs = [ask(p, temperature=0, max_tokens=16) for p in prompts]
    sequential = [answer(engine, r).choices[0].message.content for r in reqs]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda r: answer(engine, r).choices[0].message.content, reqs))
    assert concurrent == sequential
    assert len(set(sequential)) > 1  # the prompts do lead to different answers


def test_a_short_request_finishes_while_a_long_one_decodes(engine: TransformersEngine) -> None:
    long_done = threading.Event()

    def long() -> None:
        answer(engine, ask("write a long story", temperature=0, max_tokens=200))
        long_done.set()

    t = threading.Thread(target=long)
    t.start()
    time.sleep(0.3)
    short = answer(engine, ask("hi", temperature=0, max_tokens=3))
    assert short.usage.completion_tokens == 3
    assert not long_done.is_set()  # it joined the running batch instead of waiting for the long one
    t.join(120)
    assert long_done.is_set()


def test_stop_sequence_cuts_the_answer(engine: TransformersEngine) -> None:
    free = answer(engine, ask("say something", temperature=0, max_tokens=24)).choices[0].message.content
    stop = free[len(free) // 2 : len(free) // 2 + 3]
    assert stop.strip()
    cut = answer(engine, ask("say something", temperature=0, max_tokens=24, stop=[stop, "zzzz"]))
    assert cut.choices[0].message.content == free[: free.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_seed_reproduces_sampling(engine: TransformersEngine) -> None:
    def sample(seed: int) -> str:
        return (
            answer(engine, ask("random", temperature=1.0, top_p=0.9, seed=seed, max_tokens=10))
            .choices[0]
            .message.content
        )

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_closing_a_stream_early_frees_its_row(engine: TransformersEngine) -> None:
    it = engine.chat(ask("go on", temperature=0, max_tokens=200))
    next(it)
    next(it)
    it.close()  # type: ignore[attr-defined]
    assert answer(engine, ask("next", temperature=0, max_tokens=2)).usage.completion_tokens == 2


def test_context_overflow_is_clear_or_truncated_on_request(engine: TransformersEngine) -> None:
    long = "word " * 400  # the tiny model's context is 256
    with pytest.raises(InvalidInput, match=r"context length is 256"):
        engine.chat(ask(long, max_tokens=4))
    out = answer(engine, ask(long, max_tokens=4, temperature=0, truncation="auto"))
    assert out.usage.prompt_tokens <= 256 - 4 and out.usage.completion_tokens == 4


def test_embeddings_are_normalised_and_distinct(engine: TransformersEngine) -> None:
    out = engine.embed(schemas.EmbeddingRequest(input=["a cat", "quantum chromodynamics of quarks"]))
    a, b = (torch.tensor(d.embedding) for d in out.data)
    assert a.shape == (64,) and abs(float(a.norm()) - 1) < 1e-4
    assert float(a @ b) < 0.9999 and out.usage.prompt_tokens > 2


def test_lora_adapter_changes_answers(
    tiny_llama_dir: Path, tiny_lora_dir: Path, engine: TransformersEngine
) -> None:
    req = ask("hello adapter", temperature=0, max_tokens=8)
    tuned = TransformersEngine(tiny_spec(tiny_llama_dir, adapter_dir=str(tiny_lora_dir)))
    try:
        assert answer(tuned, req).choices[0].message.content != answer(engine, req).choices[0].message.content
    finally:
        tuned.close()


def test_adapter_for_another_base_is_invalid_input(tiny_llama_dir: Path, tmp_path: Path) -> None:
    other = build_tiny_llama(tmp_path / "other", tiny_llama_dir, hidden_size=32, intermediate_size=64)
    lora = build_tiny_lora(other, tmp_path / "other-lora")
    with pytest.raises(InvalidInput, match="does not fit base model"):
        TransformersEngine(tiny_spec(tiny_llama_dir, adapter_dir=str(lora)))
    with pytest.raises(NotFound, match=r"adapter_config.json"):
        TransformersEngine(tiny_spec(tiny_llama_dir, adapter_dir=str(tmp_path)))


def test_missing_model_folder_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"config.json"):
        TransformersEngine(tiny_spec(tmp_path / "nope"))


def test_int8_dynamic_quantization_serves(tiny_llama_dir: Path, engine: TransformersEngine) -> None:
    q = TransformersEngine(tiny_spec(tiny_llama_dir, quantization="int8-dynamic"))
    try:
        linears = [type(m) for m in q._lm.modules() if type(m).__name__ == "Linear"]
        assert linears and all("quantized" in t.__module__ for t in linears)
        out = answer(q, ask("hello", temperature=0, max_tokens=6))
        assert out.usage.completion_tokens >= 1
    finally:
        q.close()


def test_invalid_dtype_option_named(tiny_llama_dir: Path) -> None:
    with pytest.raises(InvalidInput, match=r"options.dtype"):
        TransformersEngine(tiny_spec(tiny_llama_dir, options={"dtype": "int3"}))


def test_a_continuously_refilled_batch_does_not_grow_its_cache(engine: TransformersEngine) -> None:
    widths: list[int] = []
    forward = engine._batcher._forward

    def spy(ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, cache: object) -> torch.Tensor:
        widths.append(mask.shape[1])
        return forward(ids, mask, pos, cache)

    engine._batcher._forward = spy  # type: ignore[method-assign]
    try:
        reqs = [ask(f"item {i}", temperature=0, max_tokens=4 + (i % 3) * 6) for i in range(24)]
        with ThreadPoolExecutor(4) as pool:
            outs = list(pool.map(lambda r: answer(engine, r), reqs))
    finally:
        engine._batcher._forward = forward  # type: ignore[method-assign]
    longest = max(o.usage.prompt_tokens + o.usage.completion_tokens for o in outs)
    assert max(widths) <= longest + 1  # finished rows' history is trimmed away


def test_requests_sharing_a_start_reuse_its_cache_and_answer_as_without_it(
    engine: TransformersEngine,
) -> None:
    system = "You are a careful assistant. " * 12  # a start far longer than PREFIX_MIN_TOKENS
    reqs = [
        schemas.ChatRequest(
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": f"{'why ' * i}sky?"},
            ],
            temperature=0,
            max_tokens=8,
        )
        for i in range(6)
    ]
    batcher = engine._batcher
    assert batcher.prefixes is not None
    prefixes, batcher.prefixes = batcher.prefixes, None
    try:
        plain = [answer(engine, r).choices[0].message.content for r in reqs]
    finally:
        batcher.prefixes = prefixes
    before = prefixes.hits
    with ThreadPoolExecutor(6) as pool:  # twice: the first batch stores the start, the second reuses it
        shared = [list(pool.map(lambda r: answer(engine, r).choices[0].message.content, reqs)) for _ in "ab"]
    assert shared == [plain, plain]
    assert prefixes.hits - before >= 6 * PREFIX_MIN_TOKENS  # rows did skip the shared start
    assert len(set(plain)) > 1


def test_a_group_is_admitted_as_one_batch_whatever_its_order(
    engine: TransformersEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluation's reproducibility: a group meets one layout (one prefill, rows in token order)."""
    reqs = [
        ask(f"Question {i}: {'why ' * i}is the sky blue?", temperature=0, max_tokens=10) for i in range(6)
    ]
    sequential = [answer(engine, r).choices[0].message.content for r in reqs]
    batcher = engine._batcher
    admitted: list[list[list[int]]] = []
    real_admit = batcher._admit

    def record(jobs: list[Job]) -> None:
        admitted.append([j.ids for j in jobs])
        real_admit(jobs)

    monkeypatch.setattr(batcher, "_admit", record)
    forward = [schemas.collect_chat(s).choices[0].message.content for s in engine.chat_group(reqs)]
    backward = [schemas.collect_chat(s).choices[0].message.content for s in engine.chat_group(reqs[::-1])]
    assert forward == sequential and backward == sequential[::-1]
    assert len(admitted) == 2 and admitted[0] == admitted[1] == sorted(admitted[0])
    assert len(admitted[0]) == len(reqs)


def test_a_group_with_an_invalid_request_submits_nothing(engine: TransformersEngine) -> None:
    too_long = ask("word " * 400, temperature=0, max_tokens=4)  # past the tiny model's context
    with pytest.raises(InvalidInput):
        engine.chat_group([ask("fine", max_tokens=4), too_long])
    assert engine._batcher._queue.qsize() == 0
