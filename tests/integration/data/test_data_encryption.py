"""Dataset files under encryption at rest: ciphertext on disk, transparent reads, a clear error without the key."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from llmloop.config import reset_settings
from llmloop.errors import Unavailable
from llmloop.services.data import service
from llmloop.services.data.schemas import DatasetAdd

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "data"


def test_dataset_artifacts_are_encrypted_and_read_back(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("LLMLOOP_ENCRYPT_ARTIFACTS", "1")
    reset_settings()
    v = service.add_version(ctx, spec=DatasetAdd(name="secret", path=str(FIXTURES / "pii.jsonl"))).version
    blob = Path(ctx.artifacts.root) / "sha256" / v.data_sha256[:2] / v.data_sha256[2:]
    on_disk = blob.read_bytes()
    assert not on_disk.startswith(b"PAR1") and b"ana.silva" not in on_disk  # Parquet magic and text hidden
    table = service.read_table(ctx, service.get_version(ctx, ref="secret@1"))
    assert table.column("text").to_pylist()[0].startswith("Contact Ana at ana.silva@example.pt")
    assert service.diff_versions(ctx, a="secret@1", b="secret@1").unchanged == 5  # index decrypts too
    monkeypatch.delenv("LLMLOOP_MASTER_KEY")
    reset_settings()
    with pytest.raises(Unavailable, match="LLMLOOP_MASTER_KEY"):
        service.read_table(ctx, service.get_version(ctx, ref="secret@1"))
    assert [
        p for p in (ctx.settings.home / "tmp").rglob("*") if p.is_file()
    ] == []  # no plaintext left behind
