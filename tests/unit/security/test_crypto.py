"""Envelope encryption: round trips, and a clear error (never garbage) for a wrong key or altered bytes."""

from __future__ import annotations

import base64
import io
import os

import pytest

from llmloop.errors import DataCorrupted, InvalidInput, Unavailable
from llmloop.security import crypto
from llmloop.security.settings import SecuritySettings


def _key() -> crypto.MasterKey:
    return crypto.MasterKey(os.urandom(32))


def test_seal_round_trip_and_wrong_key() -> None:
    k1, k2 = _key(), _key()
    blob = crypto.seal(b"sk-upstream-secret", master=k1)
    assert b"sk-upstream-secret" not in blob
    assert crypto.unseal(blob, master=k1) == b"sk-upstream-secret"
    with pytest.raises(Unavailable, match=k1.key_id.hex()):
        crypto.unseal(blob, master=k2)
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DataCorrupted, match="altered"):
        crypto.unseal(bytes(tampered), master=k1)


def test_value_is_bound_to_its_associated_data() -> None:
    k = _key()
    wrapped, ct = crypto.encrypt_value(b"v", master=k, aad=b"project-a")
    assert crypto.decrypt_value(wrapped, ct, master=k, aad=b"project-a") == b"v"
    with pytest.raises(DataCorrupted):
        crypto.decrypt_value(wrapped, ct, master=k, aad=b"project-b")


@pytest.mark.parametrize("size", [0, 1, crypto.CHUNK, crypto.CHUNK * 2 + 123])
def test_stream_round_trip(size: int) -> None:
    data = os.urandom(size)
    dk = os.urandom(32)
    out = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(data), out, dk)
    enc = out.getvalue()
    assert b"".join(crypto.decrypt_stream(io.BytesIO(enc), dk)) == data
    reader = crypto.DecryptingReader(io.BytesIO(enc), dk)
    assert b"".join(iter(lambda: reader.read(7777), b"")) == data


def test_stream_truncation_and_reordering_are_detected() -> None:
    dk = os.urandom(32)
    out = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(os.urandom(crypto.CHUNK * 2 + 5)), out, dk)
    enc = out.getvalue()
    block = crypto.CHUNK + crypto.TAG
    cut_at_chunk = enc[: 12 + block]  # drops the last chunk exactly at a boundary
    with pytest.raises(DataCorrupted):
        list(crypto.decrypt_stream(io.BytesIO(cut_at_chunk), dk))
    swapped = enc[:12] + enc[12 + block : 12 + 2 * block] + enc[12 : 12 + block] + enc[12 + 2 * block :]
    with pytest.raises(DataCorrupted):
        list(crypto.decrypt_stream(io.BytesIO(swapped), dk))
    with pytest.raises(DataCorrupted, match="magic"):
        list(crypto.decrypt_stream(io.BytesIO(b"plain text, not encrypted"), dk))


def test_rewrap_keeps_the_data_key() -> None:
    old, new = _key(), _key()
    dk, wrapped = crypto.new_data_key(old)
    again = crypto.rewrap(old, new, wrapped)
    assert crypto.wrapped_key_id(again) == new.key_id
    assert crypto.unwrap_data_key(new, again) == dk
    assert crypto.rewrap(old, new, again) == again  # already current: unchanged
    with pytest.raises(Unavailable, match="configured master key"):
        crypto.unwrap_data_key(old, again)


def test_missing_and_malformed_master_keys_say_how_to_fix() -> None:
    with pytest.raises(Unavailable, match="LLMLOOP_MASTER_KEY"):
        crypto.load_master_key(SecuritySettings(master_key=None, master_key_file=None))
    with pytest.raises(InvalidInput, match="32 random bytes"):
        crypto.load_master_key(SecuritySettings(master_key="dG9vIHNob3J0"))  # type: ignore[arg-type]
    key = crypto.generate_master_key()
    assert crypto.load_master_key(SecuritySettings(master_key=key)).key == base64.b64decode(key)  # type: ignore[arg-type]
    assert "MasterKey(id=" in repr(crypto.load_master_key(SecuritySettings(master_key=key)))  # type: ignore[arg-type]
    assert key not in repr(crypto.load_master_key(SecuritySettings(master_key=key)))  # type: ignore[arg-type]
