"""Reading weights' metadata without loading them, and refusing what could never load."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from pydantic import ValidationError

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.registry import formats
from llmloop.services.registry.schemas import ModelVersionCreate, UpstreamSpec


def _safetensors(path: Path, tensors: dict[str, list[int]]) -> Path:
    header, offset = {}, 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return path


def _adapter(folder: Path, tensors: dict[str, list[int]], **config: object) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, **config}))
    _safetensors(folder / "adapter_model.safetensors", tensors)
    return folder


LLAMA = formats.Shape(
    "llama", hidden_size=64, layers=2, intermediate_size=128, heads=4, kv_heads=2, head_dim=16
)
Q = "base_model.model.model.layers.{}.self_attn.q_proj.lora_{}.weight"
K = "base_model.model.model.layers.{}.self_attn.k_proj.lora_{}.weight"


def test_hf_folder_shape_parameters_and_digest(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                    "intermediate_size": 128, "max_position_embeddings": 512})
    )  # fmt: skip
    _safetensors(folder / "model.safetensors", {"a": [3, 4], "b": [5]})
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    info = formats.inspect_base(str(folder))
    assert (info.kind, info.parameters, info.context_length, info.chat_template) == (
        "hf_dir",
        17,
        512,
        "{{ messages }}",
    )
    assert info.shape.kv_heads == 4 and info.shape.head_dim == 16
    digest = info.sha256
    _safetensors(folder / "model.safetensors", {"a": [3, 4], "b": [6]})
    assert formats.inspect_base(str(folder)).sha256 != digest


def test_corrupt_files_are_refused(tmp_path: Path, smollm2_gguf: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    good = _safetensors(folder / "model.safetensors", {"a": [3, 4]})
    good.write_bytes(good.read_bytes()[:-5])
    with pytest.raises(InvalidInput, match="corrupt safetensors"):
        formats.inspect_base(str(folder))
    (folder / "config.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="cannot read"):
        formats.inspect_base(str(folder))
    cut = tmp_path / "cut.gguf"
    with smollm2_gguf.open("rb") as fh:
        cut.write_bytes(fh.read(4 << 20))
    with pytest.raises(InvalidInput, match="corrupt GGUF"):
        formats.inspect_base(str(cut))


def test_base_text_is_a_path_or_a_hub_id(tmp_path: Path) -> None:
    assert formats.inspect_base("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    for missing in ("./local/model", str(tmp_path / "x"), "org/model.gguf", "a/b/c"):
        with pytest.raises(NotFound, match="not found"):
            formats.inspect_base(missing)


def test_adapter_shapes_are_checked_against_the_base(tmp_path: Path) -> None:
    ok = _adapter(tmp_path / "ok", {Q.format(0, "A"): [2, 64], Q.format(0, "B"): [64, 2], K.format(1, "B"): [32, 2]},
                  target_modules=["q_proj", "k_proj"], lora_alpha=4)  # fmt: skip
    scan = formats.inspect_adapter(ok, LLAMA, base_label="tiny@1")
    assert (scan.rank, scan.alpha, scan.target_modules, scan.parameters) == (
        2,
        4.0,
        ["k_proj", "q_proj"],
        320,
    )
    cases = {
        "deep": ({Q.format(2, "A"): [2, 64]}, "layer 2, the base has 2 layers"),
        "narrow": ({Q.format(0, "A"): [2, 48]}, "input size 48, the base's q_proj has 64"),
        "kv": ({K.format(0, "B"): [64, 2]}, "output size 64, the base's k_proj has 32"),
        "alien": ({"base_model.model.transformer.h.0.attn.c_attn.lora_A.weight": [2, 64]}, "'c_attn'"),
    }
    for name, (tensors, message) in cases.items():
        with pytest.raises(InvalidInput, match=message):
            formats.inspect_adapter(_adapter(tmp_path / name, tensors), LLAMA, base_label="tiny@1")
    other = _adapter(tmp_path / "prefix", {Q.format(0, "A"): [2, 64]}, peft_type="PREFIX_TUNING")
    with pytest.raises(InvalidInput, match="PREFIX_TUNING adapter"):
        formats.inspect_adapter(other, LLAMA, base_label="tiny@1")
    pickled = _adapter(tmp_path / "pickled", {})
    shutil.move(pickled / "adapter_model.safetensors", pickled / "adapter_model.bin")
    with pytest.raises(InvalidInput, match="safe_serialization"):
        formats.inspect_adapter(pickled, LLAMA, base_label="tiny@1")


def test_create_spec_needs_one_base_and_never_a_key() -> None:
    with pytest.raises(ValidationError, match="exactly one base"):
        ModelVersionCreate(project="p", name="m")
    with pytest.raises(ValidationError, match="exactly one base"):
        ModelVersionCreate(project="p", name="m", base="a/b", base_model="x")
    with pytest.raises(ValidationError, match="never put the key itself"):
        UpstreamSpec(base_url="http://127.0.0.1:8000/v1", model="m", api_key_env="sk-abc123-secret")
    with pytest.raises(ValidationError, match="http"):
        UpstreamSpec(base_url="file:///etc/passwd", model="m")
