"""Tiny real model folders for registry tests: config-built Llamas and real PEFT LoRA adapters on them.

Built once per session (a random 2-layer Llama, hidden 64, saved with ``save_pretrained``; a LoRA
from ``peft.get_peft_model`` saved the same way): no tokenizer, no download, milliseconds to
build. ``other_base`` differs in hidden size, so its adapter must be refused on ``tiny_base``.
Import the fixtures into a conftest with ``from tests.registry_fixtures import *``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


def build_llama(folder: Path, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def build_lora(
    base: Path, folder: Path, *, r: int = 4, targets: tuple[str, ...] = ("q_proj", "v_proj")
) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets)))
    peft_model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_llama(tmp_path_factory.mktemp("tiny-base") / "model")


@pytest.fixture(scope="session")
def tiny_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lora(tiny_base, tmp_path_factory.mktemp("tiny-adapter") / "adapter")


@pytest.fixture(scope="session")
def other_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_llama(tmp_path_factory.mktemp("other-base") / "model", hidden=96, layers=3, seed=1)


@pytest.fixture(scope="session")
def other_adapter(other_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lora(other_base, tmp_path_factory.mktemp("other-adapter") / "adapter")


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    from llmloop.registry.default import packaged_gguf

    return packaged_gguf()


__all__ = [
    "build_llama",
    "build_lora",
    "other_adapter",
    "other_base",
    "smollm2_gguf",
    "tiny_adapter",
    "tiny_base",
]
