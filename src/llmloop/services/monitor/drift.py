"""Drift between a reference sample of texts and a current one, with the examples that drove it.

``method`` picks the test that decides (``drifted = p_value < alpha``); the others run beside it as
second opinions and never change the verdict, so adding opinions does not add false alarms:

- ``length``: KS on character lengths (no model needed: the cheap test for many trials);
- ``mmd``: MMD on all-MiniLM-L6-v2 embeddings with a permutation test (``auto`` picks it);
- ``classifier``: the out-of-fold AUC of a classifier told to tell the samples apart;
- ``topic``: reference clusters and the current window's shares of them.

The reference side is computed once and kept (``ReferenceStats``, keyed by the store and the
reference texts' hash), embeddings are cached in the store (``embedding_cache``), so a monitor
re-testing a sliding window pays for the new traces only. What is kept in memory is tagged with the
store's cache generation (``epoch``) and dropped when an erasure or purge in any process bumps it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from llmloop.errors import InvalidInput
from llmloop.services.monitor import epoch, stats
from llmloop.services.monitor.budget import permutations_for
from llmloop.services.monitor.embedding_cache import embed
from llmloop.services.monitor.schemas import DriftExample, DriftResult, DriftTest, TopicCluster, Window

if TYPE_CHECKING:
    from llmloop.context import Context
    from llmloop.services.prompts.embeddings import Embedder

_T = TypeVar("_T")
MIN_TEXTS = 5
TOPICS = 8
_EXAMPLES = 5
_KEEP = 16


class ReferenceStats:
    """What a reference sample contributes to every test, computed once (its clusters when first asked)."""

    def __init__(self, texts: tuple[str, ...], embeddings: stats.Matrix | None, seed: int) -> None:
        self.texts = texts
        self.lengths = np.array([len(t) for t in texts], dtype=np.float64)
        self.embeddings = embeddings
        self._seed = seed

    @functools.cached_property
    def clusters(self) -> stats.Clusters:
        assert self.embeddings is not None
        return stats.fit_clusters(self.embeddings, k=TOPICS, seed=self._seed)


# (store URL or "" without a store, texts' hash, embedder, samples and seed) -> (generation, stats)
_references: OrderedDict[tuple[str, str, str, int], tuple[int, ReferenceStats]] = OrderedDict()
_lock = threading.Lock()


def _key(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest())
    return h.hexdigest()


def reference_stats(
    ctx: Context | None,
    texts: Sequence[str],
    *,
    embedder: Embedder | None,
    max_samples: int,
    seed: int,
    generation: int | None = None,
) -> ReferenceStats:
    """The reference side, subsampled to ``max_samples`` (seeded), from the in-process cache when it
    was computed under the store's ``generation`` (read now unless the caller read it before reading
    ``texts``; an erasure or purge in any process bumps it)."""
    store = ctx.db.url if ctx is not None else ""
    if generation is None:
        generation = epoch.current(ctx) if ctx is not None else 0
    key = (store, _key(texts), embedder.model_id if embedder else "", max_samples * 1_000_003 + seed)
    with _lock:
        _forget_stale(store, generation)
        hit = _references.get(key)
        if hit is not None:
            _references.move_to_end(key)
            return hit[1]
    kept = tuple(_subsample(texts, max_samples, seed))
    ref = ReferenceStats(kept, embed(ctx, kept, embedder, generation=generation) if embedder else None, seed)
    with _lock:
        _references[key] = (generation, ref)  # read before computing: a bump meanwhile makes it stale
        while len(_references) > _KEEP:
            _references.popitem(last=False)
    return ref


def _forget_stale(store: str, generation: int) -> None:
    """Drop the entries of ``store`` computed under another generation (called holding ``_lock``)."""
    for key in [k for k, (g, _) in _references.items() if k[0] == store and g != generation]:
        del _references[key]


_F = TypeVar("_F", bound=Callable[..., Any])


def _blas_threads_when_busy(fn: _F) -> _F:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _blas_threads():
            return fn(*args, **kwargs)

    return cast(_F, run)


@contextlib.contextmanager
def _blas_threads() -> Iterator[None]:
    """One BLAS thread while the cores are busy: BLAS workers spin while they wait for each other, so
    on a loaded 2-core machine the five ridge solves of the classifier took 1.1 s on two threads and
    a tenth of that on one (the same trap ``prompts/embeddings.py`` describes for torch)."""
    cpus = os.cpu_count() or 1
    if os.getloadavg()[0] < cpus - 0.5:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _subsample(items: Sequence[_T], limit: int, seed: int) -> list[_T]:
    """At most ``limit`` of ``items``, a seeded choice kept in order."""
    if len(items) <= limit:
        return list(items)
    picked = np.random.default_rng(seed).choice(len(items), limit, replace=False)
    return [items[i] for i in sorted(picked)]


@_blas_threads_when_busy
def detect(
    ctx: Context | None,
    *,
    reference: Sequence[str],
    current: Sequence[str],
    method: str = "auto",
    alpha: float = 0.05,
    permutations: int | None = None,
    seed: int = 0,
    max_samples: int = 1000,
    embedder: Embedder | None = None,
    trace_ids: Sequence[str] | None = None,
    reference_window: Window | None = None,
    current_window: Window | None = None,
    generation: int | None = None,
) -> DriftResult:
    """Test ``current`` against ``reference``; ``trace_ids`` (one per current text) link the examples.
    ``generation``: the store's ``epoch`` read before the texts were (what the cache may serve and
    what may be written back); None reads it now (texts the caller brought, not read from traces)."""
    if ctx is not None and generation is None:
        generation = epoch.current(ctx)
    for side, texts in (("reference", reference), ("current", current)):
        if len(texts) < MIN_TEXTS:
            raise InvalidInput(
                f"the {side} sample holds {len(texts)} texts; a drift test needs at least {MIN_TEXTS}",
                details={"field": side, "texts": len(texts)},
            )
    if method not in ("auto", "mmd", "classifier", "topic", "length"):
        raise InvalidInput(f"unknown drift method {method!r}", details={"field": "method"})
    primary = "mmd" if method == "auto" else method
    if primary != "length" and embedder is None:
        from llmloop.services.prompts.embeddings import default_embedder

        embedder = default_embedder()
    ids = list(trace_ids) if trace_ids is not None else [None] * len(current)
    picked = _subsample(list(range(len(current))), max_samples, seed + 1)
    cur_texts = [current[i] for i in picked]
    cur_ids = [ids[i] for i in picked]
    ref = reference_stats(
        ctx,
        reference,
        embedder=None if primary == "length" else embedder,
        max_samples=max_samples,
        seed=seed,
        generation=generation,
    )
    cur_lengths = np.array([len(t) for t in cur_texts], dtype=np.float64)

    tests: dict[str, DriftTest] = {}
    examples: list[DriftExample] = []
    topics: list[TopicCluster] = []
    ks = stats.ks_test(ref.lengths, cur_lengths)
    tests["length"] = DriftTest(
        method="length",
        statistic=ks.statistic,
        p_value=ks.p_value,
        detail={
            "reference_median": float(np.median(ref.lengths)),
            "current_median": float(np.median(cur_lengths)),
        },
    )
    if primary == "length":
        examples = _length_examples(cur_texts, cur_ids, cur_lengths, float(np.median(ref.lengths)))
    else:
        assert embedder is not None and ref.embeddings is not None
        vectors = embed(ctx, cur_texts, embedder, generation=generation)
        wanted = {"mmd", "classifier", "topic"} if method == "auto" else {primary}
        if "mmd" in wanted:
            n_perm = permutations or permutations_for(alpha)
            mmd = stats.mmd_test(ref.embeddings, vectors, permutations=n_perm, seed=seed)
            tests["mmd"] = DriftTest(
                method="mmd",
                statistic=mmd.statistic,
                p_value=mmd.p_value,
                detail={
                    "permutations": mmd.permutations,
                    "bandwidth": mmd.bandwidth,
                    "embedder": embedder.model_id,
                },
            )
            examples = _witness_examples(cur_texts, cur_ids, mmd.witness)
        if "classifier" in wanted:
            clf = stats.classifier_auc(ref.embeddings, vectors)
            tests["classifier"] = DriftTest(
                method="classifier",
                statistic=clf.statistic,
                p_value=clf.p_value,
                detail={"statistic": "out-of-fold AUC", "p_value": "Mann-Whitney normal approximation"},
            )
        if "topic" in wanted:
            shift = stats.topic_shift(ref.clusters, vectors)
            tests["topic"] = DriftTest(
                method="topic", statistic=shift.statistic, p_value=shift.p_value, detail={"clusters": TOPICS}
            )
            topics = _topics(ref.clusters, shift, cur_texts)
            if primary == "topic":
                examples = _topic_examples(topics)
    main = tests[primary]
    ordered = [main, *(t for name, t in tests.items() if name != primary)]
    return DriftResult(
        method=primary,
        statistic=main.statistic,
        p_value=main.p_value,
        alpha=alpha,
        drifted=main.p_value < alpha,
        n_reference=len(ref.texts),
        n_current=len(cur_texts),
        reference_window=reference_window,
        current_window=current_window,
        tests=ordered,
        topics=topics,
        examples=examples,
    )


def _witness_examples(texts: list[str], ids: list[str | None], witness: np.ndarray) -> list[DriftExample]:
    order = np.argsort(-witness)[:_EXAMPLES]
    return [
        DriftExample(
            text=texts[i],
            score=float(witness[i]),
            reason="closer to the current window than to the reference (MMD witness)",
            trace_id=ids[i],
        )
        for i in order
        if witness[i] > 0
    ]


def _length_examples(
    texts: list[str], ids: list[str | None], lengths: np.ndarray, ref_median: float
) -> list[DriftExample]:
    gap = np.abs(lengths - ref_median)
    return [
        DriftExample(
            text=texts[i],
            score=float(lengths[i]),
            reason=f"{int(lengths[i])} characters; the reference's median is {ref_median:g}",
            trace_id=ids[i],
        )
        for i in np.argsort(-gap)[:_EXAMPLES]
    ]


def _topics(clusters: stats.Clusters, shift: stats.TopicShift, texts: list[str]) -> list[TopicCluster]:
    """Clusters whose share grew, the new ones first, each with up to three of its current texts."""
    k = len(clusters.centroids)
    out = []
    for j in range(k + 1):
        ref_share, cur_share = float(clusters.shares[j]), float(shift.current_shares[j])
        members = [texts[i] for i in np.flatnonzero(shift.assignment == j)[:3]]
        out.append(
            TopicCluster(
                cluster="new" if j == k else str(j),
                reference_share=ref_share,
                current_share=cur_share,
                examples=members if cur_share > ref_share else [],
            )
        )
    return sorted(out, key=lambda c: (c.cluster != "new", -(c.current_share - c.reference_share)))


def _topic_examples(topics: list[TopicCluster]) -> list[DriftExample]:
    out = []
    for c in topics:
        growth = c.current_share - c.reference_share
        if growth <= 0:
            continue
        for text in c.examples:
            out.append(
                DriftExample(
                    text=text,
                    score=growth,
                    reason=f"cluster {c.cluster} grew from {c.reference_share:.1%} to {c.current_share:.1%}",
                )
            )
    return out[:_EXAMPLES]
