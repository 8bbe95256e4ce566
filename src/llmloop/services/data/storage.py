"""Every byte of a dataset goes to and comes from the artifact store through these few functions.

Encryption at rest happens below them: ``ctx.artifacts`` is the ``EncryptedArtifactStore``
(``security/encrypted_artifacts.py``), which seals new blobs with AES-256-GCM while
``LLMLOOP_ENCRYPT_ARTIFACTS`` is set and opens them on read, so dataset files are encrypted like
every other artifact. The functions take the project so that a per-project key (issue 4, item 7:
"optional per project") can be slotted in here and nowhere else. Reads copy the blob to a private
temp file (decrypted and verified against its hash on the way, so corruption raises
``DataCorrupted`` and a missing key ``Unavailable``) because Parquet needs random access; the copy
is deleted as soon as the reader is done with it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from llmloop.context import Context
from llmloop.store.artifacts import Blob


def scratch_dir(ctx: Context) -> Path:
    """Private working space under LLMLOOP_HOME (same disk as a local artifact store)."""
    path = ctx.settings.home / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def workdir(ctx: Context) -> Iterator[Path]:
    """A folder for one ingest; removed with everything in it, whatever happens."""
    with tempfile.TemporaryDirectory(dir=scratch_dir(ctx), prefix="ingest-") as d:
        yield Path(d)


def put(ctx: Context, project: str, path: Path) -> Blob:
    """Store a finished local file; the returned hash names it from now on."""
    del project  # the slot for a per-project encryption key
    return ctx.artifacts.put_file(path)


@contextlib.contextmanager
def local_copy(ctx: Context, project: str, sha256: str) -> Iterator[Path]:
    """A verified private copy of a blob, deleted on exit."""
    del project  # the slot for a per-project decryption key
    fd, tmp = tempfile.mkstemp(dir=scratch_dir(ctx), prefix="read-", suffix=".parquet")
    os.close(fd)
    try:
        ctx.artifacts.get_file(sha256, tmp)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_table(ctx: Context, project: str, sha256: str, columns: list[str] | None = None) -> pa.Table:
    with local_copy(ctx, project, sha256) as path:
        return pq.read_table(path, columns=columns, memory_map=False)


def iter_batches(
    ctx: Context, project: str, sha256: str, *, batch_rows: int = 8192, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    with local_copy(ctx, project, sha256) as path:
        pf = pq.ParquetFile(path)
        try:
            yield from pf.iter_batches(batch_size=batch_rows, columns=columns)
        finally:
            pf.close()


def read_index(ctx: Context, project: str, sha256: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row64, key, near) hashes of every row of a version, in row order."""
    table = read_table(ctx, project, sha256)
    raw = table.column("row_hash").combine_chunks()
    rows = np.frombuffer(raw.buffers()[1], dtype=np.uint8)[raw.offset * 16 : (raw.offset + len(raw)) * 16]
    row64 = np.ascontiguousarray(rows.reshape(-1, 16)[:, :8]).view("<u8").ravel()
    key = table.column("key_hash").to_numpy()
    near = table.column("near_hash").to_numpy()
    return row64, key, near
