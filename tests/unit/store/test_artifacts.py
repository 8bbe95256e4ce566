"""The content-addressed artifact store: atomic, deduplicated, verified, streaming, escape-proof."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from llmloop.errors import DataCorrupted, InvalidInput, NotFound
from llmloop.store.artifacts import ArtifactStore, safe_relpath


class _Chunks(io.RawIOBase):
    """A stream of ``n`` MiB that never exists in memory at once."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.left == 0:
            return b""
        self.left -= 1
        return b"\x07" * (1 << 20)


def test_dedup_and_verified_read(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    a = store.put_bytes(b"hello")
    b = store.put_bytes(b"hello")
    assert a == b and a.size == 5
    assert list(store.iter_hashes()) == [a.sha256]
    assert store.read_bytes(a.sha256) == b"hello"
    assert not list((tmp_path / "a" / "tmp").iterdir()), "temp files must not linger"


def test_streams_large_content(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    blob = store.put_stream(_Chunks(8))  # type: ignore[arg-type]
    assert blob.size == 8 << 20
    total = sum(len(c) for c in store.iter_chunks(blob.sha256))
    assert total == blob.size


def test_corruption_is_detected_on_read_and_by_verify(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    good = store.put_bytes(b"good")
    bad = store.put_bytes(b"soon bad")
    path = tmp_path / "a" / "sha256" / bad.sha256[:2] / bad.sha256[2:]
    path.write_bytes(b"tampered")
    with pytest.raises(DataCorrupted, match=bad.sha256):
        store.read_bytes(bad.sha256)
    report = store.verify()
    assert report.checked == 2 and report.corrupted == [bad.sha256] and not report.ok
    assert store.read_bytes(good.sha256) == b"good"


def test_missing_and_malformed_hashes(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    with pytest.raises(NotFound):
        store.read_bytes("0" * 64)
    with pytest.raises(InvalidInput):
        store.read_bytes("../../etc/passwd")


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../x", "a/../../b", "a\\b", "a\x00b", "a//b"])
def test_safe_relpath_rejects_escapes(bad: str) -> None:
    with pytest.raises(InvalidInput):
        safe_relpath(bad)


def test_safe_relpath_normalises() -> None:
    assert safe_relpath("ckpt/./model.bin") == "ckpt/model.bin"


def test_non_local_fsspec_backend_round_trip() -> None:
    """Any fsspec URL works: the remote code path (stage, then move) on fsspec's in-memory filesystem."""
    import uuid

    store = ArtifactStore(f"memory://llmloop-{uuid.uuid4().hex}")
    assert not store.is_local
    blob = store.put_bytes(b"remote bytes")
    assert store.put_bytes(b"remote bytes") == blob
    assert store.read_bytes(blob.sha256) == b"remote bytes"
    assert store.verify().ok and store.verify().checked == 1
    assert not [p for p in store.fs.find(store.root) if p.endswith(".part")]
