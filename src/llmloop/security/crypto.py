"""Envelope encryption with AES-256-GCM: a random data key per object, wrapped by one master key.

The master key comes from ``LLMLOOP_MASTER_KEY`` (base64 of 32 bytes) or the file named by
``LLMLOOP_MASTER_KEY_FILE``. Wrapped data keys are stored apart from the ciphertext (an
artifact's ``.key`` sidecar, a secret's ``wrapped_key`` column), so rotating the master key
re-wraps a few dozen bytes per object and never rewrites data.

Formats (all integers big-endian):

- wrapped key (72 bytes): ``b"LLW1"`` · master key id (8) · nonce (12) · AES-GCM(data key) (32 + 16 tag);
  the magic and key id are authenticated as associated data.
- stream: ``b"LLS1"`` · nonce prefix (8) · chunks of ≤ 1 MiB plaintext, each AES-GCM with nonce
  prefix · counter (4) and associated data ``0`` (more follow) or ``1`` (last), so reordering,
  truncation or extension fails to authenticate.
- sealed blob (``seal``): ``b"LLB1"`` · wrapped key · nonce (12) · AES-GCM(plaintext).

Every failure is an llmloop error, never garbage: no key → ``Unavailable`` saying how to set
one; data under another key → ``Unavailable`` naming both key ids; any altered byte →
``DataCorrupted``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from llmloop.errors import DataCorrupted, InvalidInput, Unavailable
from llmloop.security.settings import SecuritySettings, decode_key, security_settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WRAP_MAGIC = b"LLW1"
STREAM_MAGIC = b"LLS1"
SEAL_MAGIC = b"LLB1"
WRAPPED_LEN = 4 + 8 + 12 + 32 + 16
CHUNK = 1 << 20
TAG = 16


@dataclass(frozen=True)
class MasterKey:
    key: bytes

    @property
    def key_id(self) -> bytes:
        """8 bytes naming the key (a hash prefix, not the key): lets errors say which key is needed."""
        return hashlib.sha256(b"llmloop-master-key-id\x00" + self.key).digest()[:8]

    def __repr__(self) -> str:  # never print the key itself
        return f"MasterKey(id={self.key_id.hex()})"


def generate_master_key() -> str:
    """A new master key as base64 text, for a key file or ``LLMLOOP_MASTER_KEY``."""
    return base64.b64encode(os.urandom(32)).decode()


def load_master_key(settings: SecuritySettings | None = None) -> MasterKey:
    settings = settings or security_settings()
    if settings.master_key is not None:
        return MasterKey(decode_key(settings.master_key.get_secret_value(), source="LLMLOOP_MASTER_KEY"))
    if settings.master_key_file is not None:
        try:
            raw = settings.master_key_file.read_bytes()
        except OSError as e:
            raise Unavailable(
                f"cannot read the master key file {settings.master_key_file}: {e.strerror}",
                details={"key": "LLMLOOP_MASTER_KEY_FILE"},
            ) from e
        return MasterKey(decode_key(raw, source="LLMLOOP_MASTER_KEY_FILE"))
    raise Unavailable(
        "encryption needs a master key: set LLMLOOP_MASTER_KEY (base64 of 32 random bytes) or "
        "LLMLOOP_MASTER_KEY_FILE (generate one with `llmloop keys rotate-master --generate FILE`)",
        details={"key": "LLMLOOP_MASTER_KEY"},
    )


def master_key_from_file(path: str | os.PathLike[str]) -> MasterKey:
    try:
        with open(path, "rb") as fh:
            return MasterKey(decode_key(fh.read(), source=str(path)))
    except OSError as e:
        raise InvalidInput(f"cannot read key file {path}: {e.strerror}", details={"path": str(path)}) from e


def _aes(key: bytes) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes, what: str) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return _aes(key).decrypt(nonce, data, aad)
    except InvalidTag:
        raise DataCorrupted(f"{what} failed to authenticate: it was altered or truncated") from None


def new_data_key(master: MasterKey) -> tuple[bytes, bytes]:
    """``(data_key, wrapped)``: encrypt with the first, store the second."""
    data_key = os.urandom(32)
    return data_key, wrap_data_key(master, data_key)


def wrap_data_key(master: MasterKey, data_key: bytes) -> bytes:
    header = WRAP_MAGIC + master.key_id
    nonce = os.urandom(12)
    return header + nonce + _aes(master.key).encrypt(nonce, data_key, header)


def wrapped_key_id(wrapped: bytes) -> bytes:
    if len(wrapped) != WRAPPED_LEN or wrapped[:4] != WRAP_MAGIC:
        raise DataCorrupted("not a wrapped llmloop data key (wrong length or magic)")
    return wrapped[4:12]


def unwrap_data_key(master: MasterKey, wrapped: bytes) -> bytes:
    key_id = wrapped_key_id(wrapped)
    if key_id != master.key_id:
        raise Unavailable(
            f"this data was encrypted under master key {key_id.hex()}, but the configured master key is "
            f"{master.key_id.hex()}: set LLMLOOP_MASTER_KEY to the right key",
            details={"needed_key_id": key_id.hex(), "configured_key_id": master.key_id.hex()},
        )
    return _decrypt(master.key, wrapped[12:24], wrapped[24:], wrapped[:12], "a wrapped data key")


def rewrap(old: MasterKey, new: MasterKey, wrapped: bytes) -> bytes:
    """The same data key wrapped by ``new``; already-new keys come back unchanged."""
    if wrapped_key_id(wrapped) == new.key_id:
        return wrapped
    return wrap_data_key(new, unwrap_data_key(old, wrapped))


# -- whole values (secrets, small blobs) ---------------------------------------------------------


def encrypt_value(
    plaintext: bytes, *, master: MasterKey | None = None, aad: bytes = b""
) -> tuple[bytes, bytes]:
    """``(wrapped_key, nonce + ciphertext)`` for storing in two columns."""
    data_key, wrapped = new_data_key(master or load_master_key())
    nonce = os.urandom(12)
    return wrapped, nonce + _aes(data_key).encrypt(nonce, plaintext, aad)


def decrypt_value(
    wrapped: bytes, ciphertext: bytes, *, master: MasterKey | None = None, aad: bytes = b""
) -> bytes:
    data_key = unwrap_data_key(master or load_master_key(), wrapped)
    return _decrypt(data_key, ciphertext[:12], ciphertext[12:], aad, "an encrypted value")


def seal(plaintext: bytes, *, master: MasterKey | None = None) -> bytes:
    """One self-contained encrypted blob (for callers with nowhere to keep the wrapped key apart)."""
    wrapped, ct = encrypt_value(plaintext, master=master, aad=SEAL_MAGIC)
    return SEAL_MAGIC + wrapped + ct


def unseal(blob: bytes, *, master: MasterKey | None = None) -> bytes:
    if blob[:4] != SEAL_MAGIC or len(blob) < 4 + WRAPPED_LEN + 12 + TAG:
        raise DataCorrupted("not an llmloop sealed blob (wrong magic or too short)")
    wrapped = blob[4 : 4 + WRAPPED_LEN]
    return decrypt_value(wrapped, blob[4 + WRAPPED_LEN :], master=master, aad=SEAL_MAGIC)


# -- streams (artifacts) -------------------------------------------------------------------------


def _nonce(prefix: bytes, counter: int) -> bytes:
    if counter >= 1 << 32:
        raise InvalidInput("stream too long to encrypt (over 4 PiB)")
    return prefix + struct.pack(">I", counter)


def _read_full(src: IO[bytes], n: int) -> bytes:
    """Exactly ``n`` bytes unless the stream ends first (a short read is not the end of a pipe)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = src.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def encrypt_stream(src: IO[bytes], dst: IO[bytes], data_key: bytes) -> None:
    """Encrypt everything read from ``src`` into ``dst``, one chunk in memory at a time."""
    aes = _aes(data_key)
    prefix = os.urandom(8)
    dst.write(STREAM_MAGIC + prefix)
    counter = 0
    chunk = _read_full(src, CHUNK)
    while True:
        ahead = _read_full(src, CHUNK) if len(chunk) == CHUNK else b""
        last = not ahead
        dst.write(aes.encrypt(_nonce(prefix, counter), chunk, b"\x01" if last else b"\x00"))
        if last:
            return
        chunk, counter = ahead, counter + 1


def decrypt_stream(src: IO[bytes], data_key: bytes) -> Iterator[bytes]:
    """Plaintext chunks of an ``encrypt_stream`` output; raises ``DataCorrupted`` on any alteration."""
    header = _read_full(src, 12)
    if len(header) != 12 or header[:4] != STREAM_MAGIC:
        raise DataCorrupted("not an llmloop encrypted stream (wrong magic)")
    prefix = header[4:]
    counter = 0
    block = _read_full(src, CHUNK + TAG)
    while True:
        ahead = _read_full(src, CHUNK + TAG) if len(block) == CHUNK + TAG else b""
        last = not ahead
        if len(block) < TAG:
            raise DataCorrupted("encrypted stream is truncated")
        yield _decrypt(
            data_key, _nonce(prefix, counter), block, b"\x01" if last else b"\x00", "an encrypted stream"
        )
        if last:
            return
        block, counter = ahead, counter + 1


class DecryptingReader:
    """A read()-able view of ``decrypt_stream`` so it can sit under the hash-verifying reader."""

    def __init__(self, fh: IO[bytes], data_key: bytes) -> None:
        self._fh = fh
        self._chunks = decrypt_stream(fh, data_key)
        self._buf = b""
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buf) < n):
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                self._eof = True
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._fh.close()
