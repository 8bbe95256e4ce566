"""Exploratory statistics of a version, accumulated batch by batch while it is written.

Everything costly is column-wise: token counts come from the UTF-8 bytes with numpy (ASCII
whitespace splits tokens) or from a given Hugging Face tokenizer; PII candidates are picked by one
RE2 pass (``pii.PREFILTER``) and only those rows are scanned in Python; duplicates are counted from
the 8-byte row and near hashes kept per row (16 bytes a row in memory). Top n-grams are read from a
sample: the rows with the smallest near hashes, which is uniform and the same whatever the order or
batching of the file. The language guess (py3langid, when installed) reads 200 rows of that sample.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.data import pii
from llmloop.services.data.hashing import RowHashes, field_text, full_text, message_texts, string_parts
from llmloop.services.data.kinds import FIELDS, Kind
from llmloop.services.data.schemas import (
    ChatProfile,
    DuplicateReport,
    FieldProfile,
    Histogram,
    LengthStats,
    NGram,
    Profile,
)

CAP = 1 << 16
HIST_BINS = 30
NGRAM_TOP = 15
LANGUAGE_ROWS = 200
LANGUAGE_CHARS = 300
_WORD = re.compile(r"\w+")

TokenCounter = Callable[[pa.Array], np.ndarray]


def whitespace_tokens(arr: pa.Array) -> np.ndarray:
    """Tokens per value: runs of non-whitespace bytes, counted without making a Python string."""
    if arr.null_count:
        arr = arr.fill_null("")
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    offsets, data = string_parts(arr)
    lo, hi = int(offsets[0]), int(offsets[-1])
    seg = data[lo:hi]
    if len(seg) == 0:
        return np.zeros(len(arr), dtype=np.int64)
    space = (seg == 32) | ((seg >= 9) & (seg <= 13))
    prev = np.empty(len(seg), dtype=bool)
    prev[0] = True
    prev[1:] = space[:-1]
    starts = offsets[:-1] - lo
    prev[starts[starts < len(seg)]] = True
    token_starts = np.flatnonzero(~space & prev)
    ends = np.searchsorted(token_starts, offsets - lo)
    return np.diff(ends).astype(np.int64)


def hf_token_counter(path: str) -> TokenCounter:
    """Token counts with a local Hugging Face tokenizer (never downloaded: offline-first)."""
    try:
        from transformers import AutoTokenizer
    except ImportError as e:
        raise Unavailable("token lengths with a tokenizer need: pip install 'llmloop[train]'") from e
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise InvalidInput(
            f"cannot load a tokenizer from {path!r}: {e}", details={"field": "tokenizer"}
        ) from e

    def count(arr: pa.Array) -> np.ndarray:
        texts = arr.fill_null("").to_pylist()
        if not texts:
            return np.zeros(0, dtype=np.int64)
        ids = tok(texts, add_special_tokens=False)["input_ids"]
        return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(texts))

    return count


class LengthAccumulator:
    """An exact distribution of non-negative integers: a bincount, plus a counter for rare huge values."""

    def __init__(self) -> None:
        self.counts = np.zeros(0, dtype=np.int64)
        self.big: Counter[int] = Counter()
        self.n = 0
        self.total = 0

    def add(self, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        self.n += len(values)
        self.total += int(values.sum())
        small = values[values < CAP]
        if len(small):
            bc = np.bincount(small)
            if len(bc) > len(self.counts):
                self.counts = np.concatenate([self.counts, np.zeros(len(bc) - len(self.counts), np.int64)])
            self.counts[: len(bc)] += bc
        if len(small) < len(values):
            self.big.update(int(v) for v in values[values >= CAP])

    def _quantile(self, q: float) -> int:
        target = q * self.n
        cumulative = np.cumsum(self.counts)
        idx = int(np.searchsorted(cumulative, target, side="left"))
        if idx < len(self.counts):
            return idx
        seen = int(cumulative[-1]) if len(cumulative) else 0
        for value in sorted(self.big):
            seen += self.big[value]
            if seen >= target:
                return value
        return max(self.big) if self.big else 0

    def stats(self) -> LengthStats:
        if self.n == 0:
            return LengthStats()
        nz = np.flatnonzero(self.counts)
        lo = int(nz[0]) if len(nz) else min(self.big)
        hi = max(self.big) if self.big else int(nz[-1])
        return LengthStats(
            count=self.n,
            min=lo,
            max=hi,
            mean=round(self.total / self.n, 3),
            p50=self._quantile(0.5),
            p90=self._quantile(0.9),
            p99=self._quantile(0.99),
            total=self.total,
            histogram=self._histogram(hi),
        )

    def _histogram(self, hi: int) -> Histogram:
        width = _nice_width((hi + 1) / HIST_BINS)
        nbins = hi // width + 1
        edges = [float(i * width) for i in range(nbins + 1)]
        counts = np.zeros(nbins, dtype=np.int64)
        if len(self.counts):
            np.add.at(counts, np.arange(len(self.counts)) // width, self.counts)
        for value, c in self.big.items():
            counts[value // width] += c
        return Histogram(edges=edges, counts=[int(c) for c in counts])


def _nice_width(raw: float) -> int:
    if raw <= 1:
        return 1
    exp = 10 ** int(np.floor(np.log10(raw)))
    for m in (1, 2, 5, 10):
        if m * exp >= raw:
            return int(m * exp)
    return int(10 * exp)


class FieldAccumulator:
    def __init__(self) -> None:
        self.values = 0
        self.empty = 0
        self.tokens = LengthAccumulator()
        self.pii: Counter[str] = Counter()

    def result(self) -> FieldProfile:
        return FieldProfile(
            values=self.values,
            empty=self.empty,
            tokens=self.tokens.stats(),
            pii={k: self.pii.get(k, 0) for k in pii.KINDS},
        )


def empty_mask(arr: pa.Array) -> np.ndarray:
    lengths = pc.utf8_length(pc.utf8_trim_whitespace(arr.fill_null("")))
    return np.asarray(pc.equal(lengths, 0).to_numpy(zero_copy_only=False), dtype=bool)


def pii_candidates(arr: pa.Array) -> np.ndarray:
    """Which values could hold PII: one RE2 pass of ``pii.PREFILTER`` over the column."""
    if len(arr) == 0:
        return np.zeros(0, dtype=bool)
    mask = pc.match_substring_regex(arr.fill_null("") if arr.null_count else arr, pii.PREFILTER)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def scan_pii(arr: pa.Array, into: Counter[str], candidates: np.ndarray | None = None) -> None:
    """Count findings in a string array, running the Python scanner only on prefilter candidates."""
    mask = pii_candidates(arr) if candidates is None else candidates
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return
    for text in arr.take(pa.array(idx)).to_pylist():
        if text:
            into.update(pii.count(text))


class Profiler:
    def __init__(self, kind: Kind, *, tokenizer: str | None = None, ngram_rows: int = 5000) -> None:
        self.kind = kind
        self.tokenizer = tokenizer or "whitespace"
        self._tokens: TokenCounter = hf_token_counter(tokenizer) if tokenizer else whitespace_tokens
        self._fields: dict[str, FieldAccumulator] = {}
        self._rows = 0
        self._empty_rows = 0
        self._row64: list[np.ndarray] = []
        self._key: list[np.ndarray] = []
        self._near: list[np.ndarray] = []
        self._splits: list[np.ndarray] = []
        self._ngram_rows = ngram_rows
        self._sample_hash = np.zeros(0, dtype=np.uint64)
        self._sample_text: list[str] = []
        self._per_row_messages = LengthAccumulator()
        self._row_tokens = LengthAccumulator()
        self._roles: Counter[str] = Counter()
        self._rows_with_system = 0
        self._rows_without_user = 0
        self._rows_ending_assistant = 0

    def _field(self, name: str) -> FieldAccumulator:
        acc = self._fields.get(name)
        if acc is None:
            acc = self._fields[name] = FieldAccumulator()
        return acc

    def _text_column(self, name: str, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        acc = self._field(name)
        acc.values += len(arr) - arr.null_count
        empty = empty_mask(arr)
        acc.empty += int(empty.sum()) - arr.null_count
        tokens = self._tokens(arr)
        acc.tokens.add(tokens if not arr.null_count else tokens[np.asarray(arr.is_valid())])
        scan_pii(arr, acc.pii)
        return empty, tokens

    def update(self, batch: pa.RecordBatch, hashes: RowHashes) -> None:
        n = batch.num_rows
        if n == 0:
            return
        self._rows += n
        if self.kind == "chat":
            all_empty = self._update_chat(batch)
        else:
            all_empty = np.ones(n, dtype=bool)
            for name in FIELDS[self.kind]:  # a preference field's messages count as one text
                empty, _ = self._text_column(name, field_text(batch.column(name), "\n"))
                all_empty &= empty
        self._empty_rows += int(all_empty.sum())
        meta = batch.column("metadata")
        if meta.null_count < n:
            self._text_column("metadata", meta.drop_null())
        if "split" in batch.schema.names:
            self._splits.append(
                np.asarray(batch.column("split").to_numpy(zero_copy_only=False), dtype=object)
            )
        self._row64.append(hashes.row64)
        self._key.append(hashes.key)
        self._near.append(hashes.near)
        self._sample(batch, hashes.near)

    def _update_chat(self, batch: pa.RecordBatch) -> np.ndarray:
        offsets, roles, contents = message_texts(batch.column("messages"))
        n = len(offsets) - 1
        lengths = np.diff(offsets)
        self._per_row_messages.add(lengths)
        encoded = pc.dictionary_encode(roles)  # a few distinct roles: compare small ints, not strings
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
        names = [str(r) for r in encoded.dictionary.to_pylist()]
        row_of = np.repeat(np.arange(n), lengths)
        empty = empty_mask(contents)
        tokens = self._tokens(contents)
        self._row_tokens.add(np.bincount(row_of, weights=tokens, minlength=n).astype(np.int64))
        candidates = pii_candidates(contents)
        has_user = 0
        for code, role in enumerate(names):
            mask = codes == code
            count = int(mask.sum())
            acc = self._field(f"messages.{role}")
            acc.values += count
            acc.empty += int(empty[mask].sum())
            acc.tokens.add(tokens[mask])
            scan_pii(contents, acc.pii, mask & candidates)
            self._roles[role] += count
            rows_with = int((np.bincount(row_of[mask], minlength=n) > 0).sum())
            if role == "system":
                self._rows_with_system += rows_with
            elif role == "user":
                has_user = rows_with
        self._rows_without_user += n - has_user
        if "assistant" in names:
            self._rows_ending_assistant += int((codes[offsets[1:] - 1] == names.index("assistant")).sum())
        nonempty_per_row = np.bincount(row_of, weights=~empty, minlength=n)
        return np.asarray(nonempty_per_row == 0, dtype=bool)

    def _sample(self, batch: pa.RecordBatch, near: np.ndarray) -> None:
        k = self._ngram_rows
        if k == 0:
            return
        if len(self._sample_hash) >= k:
            threshold = self._sample_hash[-1]
            idx = np.flatnonzero(near < threshold)
        else:
            idx = np.arange(len(near))
        if len(idx) == 0:
            return
        texts = full_text(batch.take(pa.array(idx)), self.kind).to_pylist()
        hashes = np.concatenate([self._sample_hash, near[idx]])
        pool = self._sample_text + texts
        _, first = np.unique(hashes, return_index=True)  # sorted by hash, one text per hash
        keep = first[:k]
        self._sample_hash = hashes[keep]
        self._sample_text = [pool[i] for i in keep]

    def _duplicates(self) -> DuplicateReport:
        if not self._row64:
            return DuplicateReport()
        row = np.concatenate(self._row64)
        near = np.concatenate(self._near)
        _, row_counts = np.unique(row, return_counts=True)
        values, first, near_counts = np.unique(near, return_index=True, return_counts=True)
        dup = near_counts > 1
        order = np.argsort(first[dup])[:5]
        examples = [np.flatnonzero(near == v)[:10].tolist() for v in values[dup][order]]
        return DuplicateReport(
            exact_rows=int(len(row) - len(row_counts)),
            exact_groups=int((row_counts > 1).sum()),
            near_rows=int(len(near) - len(values)),
            near_groups=int(dup.sum()),
            examples=examples,
        )

    def _ngrams(self) -> dict[str, list[NGram]]:
        uni: Counter[tuple[str, ...]] = Counter()
        bi: Counter[tuple[str, ...]] = Counter()
        tri: Counter[tuple[str, ...]] = Counter()
        for text in self._sample_text:
            w = _WORD.findall(text.lower())
            uni.update((x,) for x in w)
            bi.update(itertools.pairwise(w))
            tri.update(zip(w, w[1:], w[2:], strict=False))
        return {
            str(n): [NGram(text=" ".join(t), count=c) for t, c in counter.most_common(NGRAM_TOP)]
            for n, counter in ((1, uni), (2, bi), (3, tri))
        }

    def _languages(self) -> dict[str, float] | None:
        """Share of each language in (a part of) the n-gram sample, when py3langid is installed."""
        try:
            import py3langid
        except ImportError:
            return None
        texts = [t[:LANGUAGE_CHARS] for t in self._sample_text[:LANGUAGE_ROWS] if t.strip()]
        if not texts:
            return None
        counts = Counter(str(py3langid.classify(t)[0]) for t in texts)
        return {lang: round(n / len(texts), 3) for lang, n in counts.most_common(5)}

    def result(self, *, invalid_rows: int = 0) -> Profile:
        from llmloop.services.data.splits import leakage

        fields = {name: acc.result() for name, acc in sorted(self._fields.items())}
        totals = {k: sum(f.pii[k] for f in fields.values()) for k in pii.KINDS}
        chat = None
        if self.kind == "chat":
            total_msgs = sum(self._roles.values()) or 1
            chat = ChatProfile(
                messages_per_row=self._per_row_messages.stats(),
                tokens_per_row=self._row_tokens.stats(),
                role_counts=dict(sorted(self._roles.items())),
                role_share={r: round(c / total_msgs, 4) for r, c in sorted(self._roles.items())},
                rows_with_system=self._rows_with_system,
                rows_without_user=self._rows_without_user,
                rows_ending_with_assistant=self._rows_ending_assistant,
            )
        splits = None
        leaks = None
        if self._splits:
            labels = np.concatenate(self._splits)
            names, counts = np.unique(labels, return_counts=True)
            splits = {str(s): int(c) for s, c in zip(names, counts, strict=True)}
            leaks = leakage(labels, np.concatenate(self._row64), np.concatenate(self._key))
        return Profile(
            rows=self._rows,
            invalid_rows=invalid_rows,
            empty_rows=self._empty_rows,
            tokenizer=self.tokenizer,
            fields=fields,
            duplicates=self._duplicates(),
            chat=chat,
            top_ngrams=self._ngrams(),
            ngram_sample_rows=len(self._sample_text),
            languages=self._languages(),
            pii=totals,
            splits=splits,
            leakage=leaks,
        )
