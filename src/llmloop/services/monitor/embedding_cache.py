"""Embeddings computed once per text: looked up by content hash in the store, embedded only when absent.

A drift monitor that runs every few minutes sees mostly the same traces in each sliding window, and
its reference is the same every time; embedding them again would dominate the cost (2,000 short
texts take ~10-20 s on two busy cores, a lookup of 2,000 cached ones milliseconds). Rows are keyed
by ``(sha256(text), model_id)``: the same text from two projects is one row, and it holds a vector,
never the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from llmloop.services.monitor import epoch
from llmloop.store.tables.monitoring import EmbeddingRow

if TYPE_CHECKING:
    from llmloop.context import Context
    from llmloop.services.monitor.stats import Matrix
    from llmloop.services.prompts.embeddings import Embedder

_CHUNK = 500


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def embed(
    ctx: Context | None, texts: Sequence[str], embedder: Embedder, *, generation: int | None = None
) -> Matrix:
    """One L2-normalised row per text, in order; without ``ctx`` nothing is cached. ``generation``
    (``epoch``, read before ``texts`` were read from traces; None: now): if an erasure or purge moved
    it since, the new vectors are used but not stored, as they may be of erased texts."""
    if ctx is None:
        return embedder.encode(list(texts))
    if generation is None:
        generation = epoch.current(ctx)
    keys = [content_hash(t) for t in texts]
    known = _lookup(ctx, sorted(set(keys)), embedder.model_id)
    todo: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in known:
            todo.setdefault(key, text)
    if todo:
        vectors = embedder.encode(list(todo.values()))
        fresh = dict(zip(todo, vectors, strict=True))
        _store(ctx, fresh, embedder.model_id, generation)
        known.update(fresh)
    if not keys:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)


def _lookup(ctx: Context, keys: list[str], model_id: str) -> dict[str, np.ndarray]:
    from sqlalchemy import select

    out: dict[str, np.ndarray] = {}
    with ctx.db.session() as s:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            q = select(EmbeddingRow.content_sha256, EmbeddingRow.vector).where(
                EmbeddingRow.model_id == model_id, EmbeddingRow.content_sha256.in_(chunk)
            )
            for key, blob in s.execute(q):
                out[key] = np.frombuffer(blob, dtype="<f4")
    return out


def _store(ctx: Context, vectors: dict[str, np.ndarray], model_id: str, generation: int) -> None:
    """Insert, ignoring rows another process wrote meanwhile (same key, same vector); nothing when an
    erasure or purge committed since ``generation`` was read."""
    if ctx.db.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    rows = [
        {"content_sha256": k, "model_id": model_id, "vector": np.asarray(v, dtype="<f4").tobytes()}
        for k, v in vectors.items()
    ]
    with ctx.db.session() as s:
        if not epoch.hold(s, generation):
            return
        for start in range(0, len(rows), _CHUNK):
            s.execute(insert(EmbeddingRow).on_conflict_do_nothing(), rows[start : start + _CHUNK])
