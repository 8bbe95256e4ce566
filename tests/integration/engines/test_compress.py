"""Compression: merged export reproduces the adapter's answers; GGUF export is served by llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmloop.engines import schemas
from llmloop.engines.compress import export_gguf, export_merged
from llmloop.engines.llamacpp_engine import LlamaCppEngine
from llmloop.engines.spec import ModelSpec
from llmloop.engines.transformers_engine import TransformersEngine
from llmloop.errors import InvalidInput, Unavailable

REQ = schemas.ChatRequest(
    messages=[{"role": "user", "content": "hello adapter"}], temperature=0, max_tokens=8
)


def test_merged_export_answers_like_base_plus_adapter(
    tiny_llama_dir: Path, tiny_lora_dir: Path, tmp_path: Path
) -> None:
    spec = ModelSpec(
        ref="ft@1", key="ft", base_kind="hf_dir", base=str(tiny_llama_dir), adapter_dir=str(tiny_lora_dir)
    )
    out = export_merged(spec, tmp_path / "merged")
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    assert not (out / "adapter_config.json").exists()
    with pytest.raises(InvalidInput, match="exists already"):
        export_merged(spec, out)
    tuned = TransformersEngine(spec)
    merged = TransformersEngine(ModelSpec(ref="m@1", key="m", base_kind="hf_dir", base=str(out)))
    try:
        a = schemas.collect_chat(tuned.chat(REQ)).choices[0].message.content
        b = schemas.collect_chat(merged.chat(REQ)).choices[0].message.content
        assert a == b
    finally:
        tuned.close()
        merged.close()


def test_gguf_export_needs_a_gguf_base(tiny_llama_dir: Path, tmp_path: Path) -> None:
    spec = ModelSpec(ref="t@1", key="t", base_kind="hf_dir", base=str(tiny_llama_dir))
    with pytest.raises(Unavailable, match=r"convert_hf_to_gguf.py"):
        export_gguf(spec, tmp_path / "t.gguf")
    with pytest.raises(InvalidInput, match="dtype"):
        export_gguf(spec, tmp_path / "t.gguf", dtype="q2_k")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_gguf_export_of_smollm2_is_served_by_llamacpp(
    smollm2_gguf: Path, smollm2_hf_dir: Path, tmp_path: Path
) -> None:
    spec = ModelSpec(
        ref="smol@1",
        key="s",
        base_kind="gguf",
        base=str(smollm2_gguf),
        cache_dir=str(smollm2_hf_dir.parent.parent),
    )
    out = export_gguf(spec, tmp_path / "smol-f16.gguf", dtype="f16")
    assert 250_000_000 < out.stat().st_size < 300_000_000  # 134.5 M parameters at 2 bytes
    assert not (tmp_path / ".smol-f16.gguf.partial").exists()
    eng = LlamaCppEngine(
        ModelSpec(ref="q8@1", key="q8", base_kind="gguf", base=str(out), options={"n_ctx": "512"})
    )
    try:
        q = schemas.ChatRequest(
            messages=[
                {"role": "user", "content": "What is the capital of France? Answer with the city name."}
            ],
            temperature=0,
            max_tokens=12,
        )
        assert "paris" in schemas.collect_chat(eng.chat(q)).choices[0].message.content.lower()
    finally:
        eng.close()
