"""A version's rows a page at a time, and search over them: what ``client.datasets.get_rows`` reads.

Rows are numbered in storage order (within one split when one is asked); versions are immutable,
so a row number is a stable key and a page's ``next_offset`` is where the next page begins.

A search (``q``) scans from ``offset`` and keeps the rows that hold ``q`` until it has ``limit`` of
them. So that a search over a 10M-row version cannot hold a request for minutes, one call reads at
most ``search_scan_rows`` rows from ``offset`` (``LLMLOOP_DATA_SEARCH_SCAN_ROWS``, 200,000 unless
set): past that it answers what it found so far, maybe nothing, with the ``next_offset`` to resume
from. Rows before ``offset`` are still decoded to be counted (as plain paging always did) but are
not searched. The match runs on whole Arrow batches with ``pyarrow.compute``, never row by row.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmloop.context import Context
from llmloop.errors import InvalidInput
from llmloop.services.data import versions
from llmloop.services.data.schemas import Rows
from llmloop.services.data.settings import data_settings
from llmloop.services.data.transforms import export_records

MAX_LIMIT = 1000
MAX_Q = 200


def _check(offset: int, limit: int, q: str | None) -> None:
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"rows: offset must be >= 0 and limit 1..{MAX_LIMIT}, got offset={offset} limit={limit}",
            details={"field": "offset" if offset < 0 else "limit"},
        )
    if q is not None and not 1 <= len(q) <= MAX_Q:
        raise InvalidInput(
            f"rows: q must be 1..{MAX_Q} characters, got {len(q)} (leave it out to page without searching)",
            details={"field": "q"},
        )
    if q is not None and any(0xD800 <= ord(c) <= 0xDFFF for c in q):
        raise InvalidInput(
            "rows: q holds a lone surrogate, which is no text to search for", details={"field": "q"}
        )


def matches(batch: pa.RecordBatch, q: str) -> np.ndarray:
    """Which rows of ``batch`` hold ``q``: a boolean mask, one entry a row.

    A row matches when ``q`` is a substring, ignoring case, of any of its fields as stored: a string
    field (``text``, ``prompt``, ``input``, …), the ``content`` of any message of a message-list field
    (chat ``messages``, preference ``prompt``/``chosen``/``rejected``; roles are not searched), or the
    ``metadata`` JSON text (so its keys match too). ``split`` is not searched: ask for a split instead.
    ``q`` is literal text, never a pattern; case is folded as RE2 folds it (simple Unicode case
    folding: ``é`` finds ``É``, ``ss`` does not find ``ß``). Those two column shapes are the only
    ones a canonical batch has (``kinds.arrow_schema``).
    """
    mask = np.zeros(batch.num_rows, dtype=bool)
    for name in batch.schema.names:
        if name == "split":
            continue
        col = batch.column(name)
        if pa.types.is_list(col.type):
            content = pc.struct_field(pc.list_flatten(col), "content")
            found = pc.fill_null(pc.match_substring(content, q, ignore_case=True), False)
            mask[pc.list_parent_indices(col).filter(found).to_numpy()] = True
        else:
            found = pc.fill_null(pc.match_substring(col, q, ignore_case=True), False)
            mask |= found.to_numpy(zero_copy_only=False)
    return mask


def scan(
    batches: Iterable[pa.RecordBatch], *, offset: int, limit: int, q: str | None, budget: int
) -> tuple[list[pa.RecordBatch], int | None]:
    """The rows from ``offset`` on (only those matching ``q``, when given), at most ``limit`` of them,
    reading at most ``budget`` rows from ``offset``; and the row number the next call starts at
    (None when the batches ran out first)."""
    picked: list[pa.RecordBatch] = []
    found = 0
    seen = 0  # rows in the batches before this one
    for batch in batches:
        start = max(0, offset - seen)
        if start < batch.num_rows:
            base = seen + start
            window = batch.slice(start, min(batch.num_rows - start, budget - (base - offset)))
            hits = np.arange(window.num_rows) if q is None else np.flatnonzero(matches(window, q))
            hits = hits[: limit - found]
            picked.append(window.take(pa.array(hits, pa.int64())))
            found += len(hits)
            end = base + (int(hits[-1]) + 1 if found == limit else window.num_rows)
            if found == limit or end - offset >= budget:
                return picked, end
        seen += batch.num_rows
    return picked, None


def get_rows(
    ctx: Context,
    *,
    ref: str,
    project: str | None = None,
    split: str | None = None,
    offset: int = 0,
    limit: int = 50,
    q: str | None = None,
) -> Rows:
    """Rows ``offset`` to ``offset + limit`` in storage order; with ``q``, the first ``limit`` rows
    from ``offset`` that match it (see ``matches``), within the scan bound (module docstring)."""
    _check(offset, limit, q)
    v = versions.get_version(ctx, ref=ref, project=project)
    total = v.rows if split is None else (v.splits or {}).get(split, 0)
    budget = limit if q is None else data_settings().search_scan_rows
    picked, stop = scan(
        versions.iter_batches(ctx, v, split=split), offset=offset, limit=limit, q=q, budget=budget
    )
    following = stop if stop is not None and stop < total else None
    return Rows(
        items=[r for b in picked for r in export_records(b)],
        offset=offset,
        total=total,
        next_offset=following,
        scanned=max(0, (total if following is None else following) - offset),
        q=q,
    )
