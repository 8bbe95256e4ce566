"""A tiny exact vector index: a normalised float32 matrix, searched by one matrix-vector product.

For few-shot pools (thousands to tens of thousands of examples) an exact dot product is a
millisecond, so an ANN library would add a dependency and nothing else. Building the matrix
is the expensive part (the embedding model), so each index is kept in memory and on disk
under ``LLMLOOP_HOME/cache/fewshot``, named by the embedding model and the example set's
content key; it is written to a temporary file and renamed, so a crash never leaves a torn
cache file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from llmloop.services.prompts.embeddings import Embedder

_MEMORY_LIMIT = 16
_memory: OrderedDict[str, VectorIndex] = OrderedDict()
_lock = threading.Lock()


class VectorIndex:
    def __init__(self, matrix: npt.NDArray[np.float32]) -> None:
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def search(self, query: npt.NDArray[np.float32], k: int) -> list[int]:
        """Row numbers of the ``k`` most similar rows, most similar first."""
        n = len(self)
        if n == 0 or k <= 0:
            return []
        scores = self.matrix @ query.astype(np.float32)
        k = min(k, n)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def index_name(model_id: str, content_key: str) -> str:
    return hashlib.sha256(f"{model_id}\0{content_key}".encode()).hexdigest()


def load_or_build(
    *, content_key: str, rows: int, texts: Callable[[], Sequence[str]], embedder: Embedder, cache_dir: Path
) -> VectorIndex:
    """The index of ``rows`` texts from memory, else from disk, else built (once) and cached.

    ``texts`` is called only to build, so a query never walks the example set.
    """
    name = index_name(embedder.model_id, content_key)
    with _lock:
        cached = _memory.get(name)
        if cached is not None and len(cached) == rows:
            _memory.move_to_end(name)
            return cached
        path = cache_dir / f"{name}.npy"
        index = _read(path, rows)
        if index is None:
            index = VectorIndex(embedder.encode(list(texts())))
            _write(path, index.matrix)
        _memory[name] = index
        while len(_memory) > _MEMORY_LIMIT:
            _memory.popitem(last=False)
        return index


def _read(path: Path, rows: int) -> VectorIndex | None:
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[0] != rows or matrix.dtype != np.float32:
        return None  # stale or foreign: rebuild
    return VectorIndex(matrix)


def _write(path: Path, matrix: npt.NDArray[np.float32]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, matrix, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def forget_memory() -> None:
    """Drop in-memory indexes (tests use it to prove the disk cache is read)."""
    with _lock:
        _memory.clear()
