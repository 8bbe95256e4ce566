"""The transformers engine on the real packaged SmolLM2 (GGUF dequantised through the cache): slow."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

import llmloop.engines as engines
from llmloop.engines import schemas
from llmloop.engines.spec import ModelSpec
from llmloop.engines.weights import model_cache_root


@pytest.mark.slow
def test_gguf_spec_answers_paris_and_batches_like_sequential(
    smollm2_gguf: Path, smollm2_hf_dir: Path, smollm2_digest: str
) -> None:
    torch.set_num_threads(2)
    spec = ModelSpec(
        ref="smollm2-135m-instruct@1",
        key=smollm2_digest,
        base_kind="gguf",
        base=str(smollm2_gguf),
        base_sha256=smollm2_digest,
        cache_dir=str(smollm2_hf_dir.parent.parent),  # the fixture's cache: not dequantised again
    )
    assert model_cache_root(spec.cache_dir) / "hf" / smollm2_digest == smollm2_hf_dir
    eng = engines.load_engine(spec, "transformers")
    try:
        q = schemas.ChatRequest(
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            temperature=0,
            max_tokens=16,
        )
        out = schemas.collect_chat(eng.chat(q))
        assert "paris" in out.choices[0].message.content.lower()
        assert out.usage.prompt_tokens > 20 and out.model == "smollm2-135m-instruct@1"
        reqs = [
            schemas.ChatRequest(
                messages=[{"role": "user", "content": f"Name {n} fruits."}], temperature=0, max_tokens=12
            )
            for n in ("two", "three", "four", "five")
        ]
        sequential = [schemas.collect_chat(eng.chat(r)).choices[0].message.content for r in reqs]
        with ThreadPoolExecutor(4) as pool:
            concurrent = list(
                pool.map(lambda r: schemas.collect_chat(eng.chat(r)).choices[0].message.content, reqs)
            )
        assert concurrent == sequential

        def distinct(**kw: float) -> float:
            req = schemas.ChatRequest(
                messages=[{"role": "user", "content": "Say 'la' twenty times."}],
                temperature=0,
                max_tokens=30,
                **kw,
            )
            text = schemas.collect_chat(eng.chat(req)).choices[0].message.content
            words = text.lower().split()
            return len(set(words)) / max(1, len(words))

        assert distinct(frequency_penalty=2.0, presence_penalty=1.0) > distinct()  # penalties are honoured
    finally:
        engines.release_all()
