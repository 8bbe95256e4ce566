"""The artifact store with encryption at rest: same content addresses, ciphertext on disk.

A blob keeps its address (the sha256 of its *plaintext*), so dedup, lineage and
``store verify`` work unchanged; on disk it is an AES-256-GCM stream (``crypto.encrypt_stream``)
and its wrapped data key sits beside it in ``<blob>.key``. The sidecar lands before the blob,
so a crash never leaves ciphertext without its key. Reading decrypts and re-hashes as it
streams. Blobs without a sidecar (written before encryption was switched on) are read as
plain, so switching on, or off, never strands data; new blobs are encrypted while
``LLMLOOP_ENCRYPT_ARTIFACTS`` is set. ``rotate`` re-wraps every sidecar under a new master key.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from llmloop.errors import InvalidInput, NotFound
from llmloop.security import crypto
from llmloop.security.settings import security_settings
from llmloop.store.artifacts import HEX, ArtifactStore, Blob, VerifyingReader

SIDECAR = ".key"


def _checked(sha256: str) -> str:
    if len(sha256) != 64 or not set(sha256) <= HEX:
        raise InvalidInput(f"not a sha256 digest: {sha256[:80]!r}", details={"field": "sha256"})
    return sha256


class _HashingReader:
    """Feeds what it reads to a sha256, so the plaintext hash is known when encryption ends."""

    def __init__(self, src: IO[bytes]) -> None:
        self.src = src
        self.hasher = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n)
        self.hasher.update(data)
        self.size += len(data)
        return data


@dataclass(frozen=True)
class RotateReport:
    rewrapped: int
    already_current: int


class EncryptedArtifactStore(ArtifactStore):
    def __init__(self, url: str, *, encrypt: bool | None = None) -> None:
        super().__init__(url)
        self._encrypt = encrypt

    @property
    def encrypts(self) -> bool:
        return self._encrypt if self._encrypt is not None else security_settings().encrypt_artifacts

    def _sidecar(self, sha256: str) -> str:
        return self._blob_path(sha256) + SIDECAR

    def put_stream(self, stream: IO[bytes]) -> Blob:
        if not self.encrypts:
            return super().put_stream(stream)
        master = crypto.load_master_key()  # fail before reading anything
        data_key, wrapped = crypto.new_data_key(master)
        reader = _HashingReader(stream)
        fd, tmp = tempfile.mkstemp(dir=self._tmp_dir(), prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                crypto.encrypt_stream(cast(IO[bytes], reader), out, data_key)
                out.flush()
                os.fsync(out.fileno())
            sha = reader.hasher.hexdigest()
            final = self._blob_path(sha)
            if self.fs.exists(final):
                return Blob(sha, reader.size)
            self._write_small(self._sidecar(sha), wrapped)
            self._move_into_place(tmp, final)
            return Blob(sha, reader.size)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _move_into_place(self, tmp: str, final: str) -> None:
        if self.is_local:
            Path(final).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        else:
            staged = f"{final}.{uuid.uuid4().hex}.part"
            self.fs.put_file(tmp, staged)
            self.fs.mv(staged, final)

    def _write_small(self, path: str, data: bytes) -> None:
        """Atomic replace of a small file (temp + rename)."""
        fd, tmp = tempfile.mkstemp(dir=self._tmp_dir(), prefix="key-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            self._move_into_place(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def is_encrypted(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._sidecar(_checked(sha256))))

    def open(self, sha256: str) -> VerifyingReader:
        path = self._blob_path(_checked(sha256))
        try:
            with self.fs.open(self._sidecar(sha256), "rb") as fh:
                wrapped = fh.read()
        except FileNotFoundError:
            return super().open(sha256)
        data_key = crypto.unwrap_data_key(crypto.load_master_key(), wrapped)
        try:
            fh = self.fs.open(path, "rb")
        except FileNotFoundError as e:
            raise NotFound(f"artifact {sha256} is missing from the store") from e
        return VerifyingReader(cast(Any, crypto.DecryptingReader(fh, data_key)), sha256)

    def rotate(self, old: crypto.MasterKey, new: crypto.MasterKey) -> RotateReport:
        """Re-wrap every data key from ``old`` to ``new``; blobs are not touched. Safe to rerun."""
        rewrapped = current = 0
        for sha in self.iter_hashes():
            side = self._sidecar(sha)
            try:
                with self.fs.open(side, "rb") as fh:
                    wrapped = fh.read()
            except FileNotFoundError:
                continue
            if crypto.wrapped_key_id(wrapped) == new.key_id:
                current += 1
                continue
            self._write_small(side, crypto.rewrap(old, new, wrapped))
            rewrapped += 1
        return RotateReport(rewrapped=rewrapped, already_current=current)
