"""Few-shot selection: which examples go into a prompt, and how many fit.

Strategies: ``fixed`` (the first k, in order), ``random`` (k drawn with a fixed seed, so a
version always renders the same way) and ``semantic`` (the k nearest to the query variable
by all-MiniLM-L6-v2 cosine similarity, most similar first).

Examples are inline (``few_shot.examples``) or come from a dataset (``few_shot.examples_from``).
The prompt registry does not import the dataset service: a dataset reference is resolved by
an *example source*, a callable ``ref -> ExampleSet`` that whoever renders passes in (the
prompts service: ``service.dataset_examples``; the SDK: its client's ``prompts.example_source``,
so a remote caller reads the server's datasets). There is no process-wide default: which store
and whose permissions a dataset is read with depends on the caller. ``ExampleSet.key`` must
change whenever the rows do (a dataset version's content hash): the vector index cache is
keyed by it, so a dataset version is embedded once.

Token budget: examples are dropped whole from the end of the ranking (least relevant
first), never cut mid-text, until the few-shot block fits ``max_tokens`` and the whole prompt plus the
completion's ``max_tokens`` fits ``context_window``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.prompts.embeddings import Embedder, default_embedder
from llmloop.services.prompts.schemas import FewShot

DEFAULT_K = 3
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """Words and punctuation marks: close to (slightly under) what BPE tokenizers count for English.

    Pass a real tokenizer's counter (``lambda s: len(tok.encode(s))``) where exactness matters.
    """
    return len(_TOKEN_RE.findall(text))


@dataclass(frozen=True)
class ExampleSet:
    key: str
    rows: Sequence[Mapping[str, Any]]


ExampleSource = Callable[[str], ExampleSet]


def inline_key(rows: Sequence[Mapping[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


class Selector:
    """Picks ranked examples for one prompt version's few-shot block."""

    def __init__(self, config: FewShot, *, embedder: Callable[[], Embedder] = default_embedder) -> None:
        self.config = config
        self._embedder = embedder
        self._inline = ExampleSet(inline_key(config.examples), config.examples) if config.examples else None

    def example_set(self, source: ExampleSource | None = None) -> ExampleSet:
        if self._inline is not None:
            return self._inline
        ref = self.config.examples_from or ""
        if source is None:
            raise Unavailable(
                f"few-shot examples_from={ref!r} needs an example source to read the dataset: render "
                "through ll.prompts, the CLI or REST, or pass example_source",
                details={"examples_from": ref},
            )
        return source(ref)

    def select(
        self, values: Mapping[str, Any], *, source: ExampleSource | None = None, cache_dir: Path
    ) -> list[Mapping[str, Any]]:
        cfg = self.config
        rows = self.example_set(source).rows
        if cfg.strategy == "fixed":
            return list(rows[: cfg.k] if cfg.k else rows)
        k = min(cfg.k or DEFAULT_K, len(rows))
        if cfg.strategy == "random":
            return [rows[i] for i in random.Random(cfg.seed).sample(range(len(rows)), k)]
        query = values.get(cfg.query_variable or "")
        if not isinstance(query, str):
            raise InvalidInput(
                f"semantic few-shot needs variable {cfg.query_variable!r} to be a string",
                details={"variable": cfg.query_variable},
            )
        embedder = self._embedder()
        index = self.index(embedder, source=source, cache_dir=cache_dir)
        return [rows[i] for i in index.search(embedder.encode([query])[0], k)]

    def index(self, embedder: Embedder, *, source: ExampleSource | None = None, cache_dir: Path) -> Any:
        """The example set's vector index (built on first use, then cached in memory and on disk)."""
        from llmloop.services.prompts.vectors import load_or_build  # numpy only for semantic selection

        examples = self.example_set(source)
        key = self.config.key
        return load_or_build(
            content_key=f"{examples.key}\0{key}",
            rows=len(examples.rows),
            texts=lambda: [_text_of(row, key, i) for i, row in enumerate(examples.rows)],
            embedder=embedder,
            cache_dir=cache_dir,
        )


def _text_of(row: Mapping[str, Any], key: str, i: int) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise InvalidInput(
            f"few-shot example {i} has no text field {key!r} to embed", details={"example": i, "field": key}
        )
    return value


def fit_budget(
    ranked: Sequence[Mapping[str, Any]],
    measure: Callable[[Sequence[Mapping[str, Any]]], int],
    *,
    max_tokens: int | None,
    context_window: int | None,
    reserve: int,
) -> tuple[int, int]:
    """How many of ``ranked`` fit, and the prompt's tokens with them.

    ``measure(examples)`` is the token count of the whole prompt rendered with those
    examples; more examples never measure fewer tokens, so a binary search finds the
    largest prefix that fits.
    """
    base = measure([])
    if context_window is not None and base + reserve > context_window:
        raise InvalidInput(
            f"the prompt needs {base} tokens (+{reserve} for the completion) without any examples; "
            f"the context window is {context_window}",
            details={"prompt_tokens": base, "context_window": context_window},
        )

    def fits(n: int) -> tuple[bool, int]:
        total = measure(ranked[:n])
        ok = (max_tokens is None or total - base <= max_tokens) and (
            context_window is None or total + reserve <= context_window
        )
        return ok, total

    ok, total = fits(len(ranked))
    if ok:
        return len(ranked), total
    lo, hi, best = 0, len(ranked) - 1, base  # lo fits, hi + 1 does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ok, total = fits(mid)
        if ok:
            lo, best = mid, total
        else:
            hi = mid - 1
    return lo, best
