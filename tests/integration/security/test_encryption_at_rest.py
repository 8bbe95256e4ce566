"""Encrypted artifacts and secrets: round trips, clear errors for a wrong key, master key rotation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import new_master_key

from llmloop.config import reset_settings
from llmloop.context import Context
from llmloop.errors import DataCorrupted, Unavailable
from llmloop.security import audit, vault
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import RunCreate

PLAIN = b"travel reviews, confidential " * 40000  # ~1.2 MB: more than one encrypted chunk


def _blob_files(ctx: Context, sha: str) -> tuple[Path, Path]:
    root = Path(ctx.artifacts.root) / "sha256" / sha[:2]
    return root / sha[2:], root / f"{sha[2:]}.key"


@pytest.fixture
def encrypting(master_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LLMLOOP_ENCRYPT_ARTIFACTS", "1")
    return master_key


def test_encrypted_artifact_round_trip(ctx: Context, encrypting: str, tmp_path: Path) -> None:
    src = tmp_path / "reviews.txt"
    src.write_bytes(PLAIN)
    run = service.create_run(ctx, spec=RunCreate(project="p")).id
    art = service.log_artifact(ctx, run_id=run, path=src)
    assert art.sha256 == hashlib.sha256(PLAIN).hexdigest()  # addressed by the plaintext
    blob, sidecar = _blob_files(ctx, art.sha256)
    on_disk = blob.read_bytes()
    assert b"confidential" not in on_disk and on_disk[:4] == b"LLS1" and sidecar.stat().st_size == 72
    assert ctx.artifacts.read_bytes(art.sha256) == PLAIN
    assert ctx.artifacts.get_file(art.sha256, tmp_path / "back.txt").read_bytes() == PLAIN
    again = ctx.artifacts.put_bytes(PLAIN)  # dedup: same address, nothing rewritten
    assert again.sha256 == art.sha256 and blob.read_bytes() == on_disk
    assert ctx.artifacts.verify().ok


def test_wrong_or_missing_key_is_a_clear_error(
    ctx: Context, encrypting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = ctx.artifacts.put_bytes(b"secret weights").sha256
    monkeypatch.setenv("LLMLOOP_MASTER_KEY", new_master_key())
    with pytest.raises(Unavailable, match="encrypted under master key"):
        ctx.artifacts.read_bytes(sha)
    monkeypatch.delenv("LLMLOOP_MASTER_KEY")
    with pytest.raises(Unavailable, match="LLMLOOP_MASTER_KEY"):
        ctx.artifacts.read_bytes(sha)
    with pytest.raises(Unavailable, match="LLMLOOP_MASTER_KEY"):
        ctx.artifacts.put_bytes(b"new data")  # refused before anything is written


def test_tampered_ciphertext_is_detected(ctx: Context, encrypting: str) -> None:
    sha = ctx.artifacts.put_bytes(PLAIN).sha256
    blob, _ = _blob_files(ctx, sha)
    data = bytearray(blob.read_bytes())
    data[100] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(DataCorrupted):
        ctx.artifacts.read_bytes(sha)
    assert ctx.artifacts.verify().corrupted == [sha]


def test_plain_blobs_stay_readable_after_switching_encryption_on(
    ctx: Context, master_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = ctx.artifacts.put_bytes(b"written before encryption").sha256
    monkeypatch.setenv("LLMLOOP_ENCRYPT_ARTIFACTS", "1")
    sealed = ctx.artifacts.put_bytes(b"written after").sha256
    assert ctx.artifacts.read_bytes(plain) == b"written before encryption"
    assert ctx.artifacts.read_bytes(sealed) == b"written after"
    monkeypatch.delenv("LLMLOOP_ENCRYPT_ARTIFACTS")
    assert ctx.artifacts.read_bytes(sealed) == b"written after"  # switching off strands nothing


def test_rotate_master_rewraps_keys_without_rewriting_data(
    ctx: Context, encrypting: str, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = ctx.artifacts.put_bytes(PLAIN).sha256
    vault.set_secret(ctx, project="p", name="openai", value="sk-rotate-me")
    blob, sidecar = _blob_files(ctx, sha)
    data_before, wrapped_before = blob.read_bytes(), sidecar.read_bytes()
    new_file = tmp_path / "master.key"
    res = cli("keys", "rotate-master", "--generate", str(new_file), "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["artifacts_rewrapped"] == 1 and report["secrets_rewrapped"] == 1
    assert oct(new_file.stat().st_mode & 0o777) == "0o600"
    assert blob.read_bytes() == data_before and sidecar.read_bytes() != wrapped_before
    with pytest.raises(Unavailable, match="configured master key"):
        ctx.artifacts.read_bytes(sha)  # the old key no longer opens it
    monkeypatch.delenv("LLMLOOP_MASTER_KEY")
    monkeypatch.setenv("LLMLOOP_MASTER_KEY_FILE", str(new_file))
    reset_settings()
    assert ctx.artifacts.read_bytes(sha) == PLAIN
    assert vault.use_secret(ctx, project="p", name="openai", actor=ctx.actor) == "sk-rotate-me"
    rerun = cli("keys", "rotate-master", "--new-key-file", str(new_file), "--json")
    assert rerun.exit_code == 0 and json.loads(rerun.stdout)["artifacts_already_current"] == 1
    exists = cli("keys", "rotate-master", "--generate", str(new_file))
    assert exists.exit_code == 2 and "not overwriting" in exists.stderr


def test_secret_ciphertext_is_bound_to_its_row(ctx: Context, master_key: str) -> None:
    from sqlalchemy import text

    vault.set_secret(ctx, project="p", name="a", value="value-a")
    vault.set_secret(ctx, project="p", name="b", value="value-b")
    with ctx.db.connect() as conn:
        raw = conn.execute(text("SELECT wrapped_key, ciphertext FROM secrets WHERE name = 'a'")).one()
        assert b"value-a" not in bytes(raw[1])
        conn.execute(
            text("UPDATE secrets SET wrapped_key = :w, ciphertext = :c WHERE name = 'b'"),
            {"w": raw[0], "c": raw[1]},
        )
        audit.exempt(conn, "simulates tampering with the database outside llmloop")
    with pytest.raises(DataCorrupted):
        vault.use_secret(ctx, project="p", name="b", actor=ctx.actor)
