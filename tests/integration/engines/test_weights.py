"""GGUF checks (missing, bad magic, truncated, digest mismatch) and the once-only dequantised cache."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from llmloop.engines import weights
from llmloop.errors import DataCorrupted, NotFound


def test_missing_gguf_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist") as e:
        weights.check_gguf(tmp_path / "nope.gguf")
    assert e.value.details["file"].endswith("nope.gguf")


def test_bad_magic_is_corrupt(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 100)
    with pytest.raises(DataCorrupted, match="bad magic") as e:
        weights.check_gguf(bad)
    assert str(bad) in e.value.message


def test_truncated_gguf_is_corrupt(smollm2_gguf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with smollm2_gguf.open("rb") as f:
        cut.write_bytes(f.read(5_000_000))
    with pytest.raises(DataCorrupted, match=r"truncated|damaged") as e:
        weights.check_gguf(cut)
    assert str(cut) in e.value.message


def test_damaged_header_is_corrupt(tmp_path: Path) -> None:
    bad = tmp_path / "hdr.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 64)
    with pytest.raises(DataCorrupted, match="damaged"):
        weights.check_gguf(bad)


def test_digest_checked_when_given(smollm2_gguf: Path, smollm2_digest: str) -> None:
    assert weights.check_gguf(smollm2_gguf, smollm2_digest) == smollm2_digest
    with pytest.raises(DataCorrupted, match="does not match"):
        weights.check_gguf(smollm2_gguf, "0" * 64)


def test_build_once_is_atomic_and_single_under_concurrency(tmp_path: Path) -> None:
    calls: list[int] = []
    target = tmp_path / "built"

    def build(tmp: Path) -> None:
        calls.append(1)
        (tmp / "weights.bin").write_bytes(b"x" * 10)

    threads = [threading.Thread(target=weights.build_once, args=(target, build)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and (target / "weights.bin").read_bytes() == b"x" * 10
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".built")] == []  # no temp folder left


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(tmp: Path) -> None:
        (tmp / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        weights.build_once(tmp_path / "t", build)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.lock"]


def test_dequantised_folder_loads_without_the_gguf_flag(smollm2_hf_dir: Path) -> None:
    assert (smollm2_hf_dir / "model.safetensors").is_file()
    config = (smollm2_hf_dir / "config.json").read_text()
    assert "quantization_config" not in config
    tok = weights.load_tokenizer(smollm2_hf_dir)
    assert tok.chat_template and tok.padding_side == "left"


def test_gguf_metadata(smollm2_gguf: Path) -> None:
    meta = weights.gguf_metadata(smollm2_gguf)
    assert meta["general.architecture"] == "llama" and int(meta["llama.context_length"]) == 8192
    assert "im_start" in meta["tokenizer.chat_template"]
