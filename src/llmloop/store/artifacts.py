"""Content-addressed artifact store over fsspec.

Blobs live at ``<root>/sha256/<aa>/<rest-of-hash>``. Writes stream through a hasher into
a temp file and are renamed into place only when complete, so a killed process never
leaves a half blob under a real hash; identical content is stored once. Reads re-hash as
they stream and raise ``DataCorrupted`` on mismatch. A local folder is the default;
``s3://bucket/prefix`` (or any fsspec URL) works by configuration.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

from llmloop.errors import DataCorrupted, InvalidInput, NotFound, Unavailable

CHUNK = 1 << 20
HEX = frozenset("0123456789abcdef")
UPLOAD_PREFIX = "upload-"  # then the writer's pid and "-": a leftover names the process that left it


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


@dataclass(frozen=True)
class Leftover:
    """A file in the store that is no blob: a temp file of an upload, or a staged ``.part`` copy."""

    path: str
    age_s: float
    pid: int | None  # the process that wrote it, when the name says (local uploads)


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    corrupted: list[str]
    bytes_checked: int

    @property
    def ok(self) -> bool:
        return not self.corrupted


def safe_relpath(name: str) -> str:
    """A user-given artifact name as a normalised relative POSIX path that cannot escape its root."""
    if not name or "\x00" in name or "\\" in name:
        raise InvalidInput(f"invalid artifact path {name!r}", details={"field": "path"})
    parts = name.split("/")
    if name.startswith("/") or any(part in ("..", "") for part in parts) or len(name) > 1024:
        raise InvalidInput(
            f"artifact path {name!r} must be relative and stay inside its root (no '..', no leading '/')",
            details={"field": "path", "value": name[:200]},
        )
    p = PurePosixPath(*(part for part in parts if part != "."))
    return str(p)


def _check_sha(sha256: str) -> str:
    if len(sha256) != 64 or not set(sha256) <= HEX:
        raise InvalidInput(f"not a sha256 digest: {sha256[:80]!r}", details={"field": "sha256"})
    return sha256


class ArtifactStore:
    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as e:
            raise Unavailable(f"cannot open artifact store {url!r}: {e}") from e
        self.root = root.rstrip("/")
        self.is_local = "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )
        if self.is_local:
            try:
                Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise Unavailable(f"cannot create artifact folder {self.root}: {e.strerror}") from e

    def _blob_path(self, sha256: str) -> str:
        return f"{self.root}/sha256/{sha256[:2]}/{sha256[2:]}"

    def _tmp_dir(self) -> str:
        return f"{self.root}/tmp" if self.is_local else tempfile.gettempdir()

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._blob_path(_check_sha(sha256))))

    def temp_file(self) -> tuple[int, str]:
        """A new temp file (fd, path) named for this process, where ``leftovers`` finds it after a crash."""
        return tempfile.mkstemp(dir=self._tmp_dir(), prefix=f"{UPLOAD_PREFIX}{os.getpid()}-")

    def put_stream(self, stream: IO[bytes]) -> Blob:
        """Store everything read from ``stream``; memory use is one chunk whatever the size."""
        hasher = hashlib.sha256()
        size = 0
        fd, tmp = self.temp_file()
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = hasher.hexdigest()
            final = self._blob_path(sha)
            if self.fs.exists(final):
                return Blob(sha, size)
            if self.is_local:
                Path(final).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            else:
                staged = f"{final}.{uuid.uuid4().hex}.part"
                self.fs.put_file(tmp, staged)
                self.fs.mv(staged, final)
            return Blob(sha, size)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put_file(self, path: str | Path) -> Blob:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"artifact file not found: {p}", details={"path": str(p)})
        with p.open("rb") as fh:
            return self.put_stream(fh)

    def put_bytes(self, data: bytes) -> Blob:
        import io

        return self.put_stream(io.BytesIO(data))

    def open(self, sha256: str) -> VerifyingReader:
        """A stream that raises DataCorrupted at its end if the content does not match its hash."""
        path = self._blob_path(_check_sha(sha256))
        try:
            fh = self.fs.open(path, "rb")
        except FileNotFoundError as e:
            raise NotFound(f"artifact {sha256} is missing from the store") from e
        return VerifyingReader(fh, sha256)

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        with self.open(sha256) as reader:
            while chunk := reader.read(CHUNK):
                yield chunk

    def read_bytes(self, sha256: str) -> bytes:
        return b"".join(self.iter_chunks(sha256))

    def get_file(self, sha256: str, dest: str | Path) -> Path:
        """Copy a blob to ``dest`` atomically and verified."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.iter_chunks(sha256):
                    out.write(chunk)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return dest

    def iter_hashes(self) -> Iterator[str]:
        base = f"{self.root}/sha256"
        if not self.fs.exists(base):
            return
        for prefix in sorted(self.fs.ls(base, detail=False)):
            for name in sorted(self.fs.ls(prefix, detail=False)):
                head = PurePosixPath(str(prefix)).name
                tail = PurePosixPath(str(name)).name
                if len(head) == 2 and len(tail) == 62:
                    yield head + tail

    def age_s(self, sha256: str) -> float:
        """Seconds since the blob was written (by its modification time)."""
        return _age(self.fs, self._blob_path(_check_sha(sha256)))

    def delete(self, sha256: str) -> None:
        """Remove one blob; the caller has checked that nothing refers to it."""
        path = self._blob_path(_check_sha(sha256))
        if self.fs.exists(path):
            self.fs.rm(path)

    def leftovers(self) -> list[Leftover]:
        """Temp files of uploads that never finished (a killed process) and staged remote copies."""
        found: list[Leftover] = []
        if self.is_local:
            for entry in sorted(Path(self.root, "tmp").glob(f"{UPLOAD_PREFIX}*")):
                pid_text = entry.name[len(UPLOAD_PREFIX) :].partition("-")[0]
                pid = int(pid_text) if pid_text.isdigit() else None
                found.append(Leftover(str(entry), _age(self.fs, str(entry)), pid))
        base = f"{self.root}/sha256"
        if self.fs.exists(base):
            for prefix in self.fs.ls(base, detail=False):
                for name in self.fs.ls(prefix, detail=False):
                    if str(name).endswith(".part"):
                        found.append(Leftover(str(name), _age(self.fs, str(name)), None))
        return found

    def remove_leftover(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm(path)

    def verify(self) -> VerifyReport:
        """Re-hash every blob; corruption is a result to report, not an exception."""
        checked = 0
        total = 0
        bad: list[str] = []
        for sha in self.iter_hashes():
            checked += 1
            try:
                for chunk in self.iter_chunks(sha):
                    total += len(chunk)
            except DataCorrupted:
                bad.append(sha)
        return VerifyReport(checked, bad, total)


def _age(fs: Any, path: str) -> float:
    info = fs.info(path)
    mtime = info.get("mtime") or info.get("LastModified") or info.get("created")
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return max(0.0, time.time() - float(mtime)) if mtime is not None else 0.0


class VerifyingReader:
    def __init__(self, fh: BinaryIO, sha256: str) -> None:
        self._fh = fh
        self._expected = sha256
        self._hasher = hashlib.sha256()
        self._done = False

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self._hasher.update(data)
        if (not data or n < 0) and not self._done:
            self._done = True
            if self._hasher.hexdigest() != self._expected:
                raise DataCorrupted(
                    f"artifact {self._expected} is corrupted: its content no longer matches its hash",
                    details={"sha256": self._expected},
                )
        return data

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
