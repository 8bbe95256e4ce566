"""Batch transforms that make a child version from a parent's canonical rows: redact, split, filter.

They take and return canonical Arrow batches, so a child version goes through the same hashing,
profiling and writing as a fresh ingest and gets a content hash of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmloop.services.data import pii
from llmloop.services.data.hashing import message_texts
from llmloop.services.data.kinds import MESSAGE, MESSAGES, Kind, arrow_schema, canonical_json
from llmloop.services.data.profile import pii_candidates


def redact_strings(arr: pa.Array, kinds: Iterable[str] | None = None) -> pa.Array:
    mask = pii_candidates(arr)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return arr
    replaced = [pii.redact(t, kinds) if t is not None else None for t in arr.take(pa.array(idx)).to_pylist()]
    return pc.replace_with_mask(arr, pa.array(mask), pa.array(replaced, arr.type))


def _redact_value(value: Any, kinds: Iterable[str] | None) -> Any:
    if isinstance(value, str):
        return pii.redact(value, kinds)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
        redacted = pii.redact(text, kinds)
        return value if redacted == text else redacted
    if isinstance(value, list):
        return [_redact_value(v, kinds) for v in value]
    if isinstance(value, dict):
        return {k: _redact_value(v, kinds) for k, v in value.items()}
    return value


def redact_metadata(arr: pa.Array, kinds: Iterable[str] | None = None) -> pa.Array:
    """Redact inside metadata values (never keys), so the JSON stays valid."""
    mask = pii_candidates(arr) & np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return arr
    texts = arr.take(pa.array(idx)).to_pylist()
    replaced = [canonical_json(_redact_value(json.loads(t), kinds)) for t in texts]
    return pc.replace_with_mask(arr, pa.array(mask), pa.array(replaced, arr.type))


def redact_batch(batch: pa.RecordBatch, kinds: Iterable[str] | None = None) -> pa.RecordBatch:
    kinds = list(kinds) if kinds is not None else None
    cols: list[pa.Array] = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_list(col.type):
            offsets, roles, contents = message_texts(col)
            values = pa.StructArray.from_arrays(
                [roles, redact_strings(contents, kinds)], fields=list(MESSAGE)
            )
            col = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=MESSAGES)
        elif name == "metadata":
            col = redact_metadata(col, kinds)
        elif name != "split":
            col = redact_strings(col, kinds)
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=batch.schema)


def with_split(batch: pa.RecordBatch, kind: Kind, labels: np.ndarray) -> pa.RecordBatch:
    """The batch with its ``split`` column set to ``labels`` (replacing any it had)."""
    schema = arrow_schema(kind, with_split=True)
    cols = [batch.column(name) for name in schema.names if name != "split"]
    cols.append(pa.array(labels.tolist(), pa.string()))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def without_split(batch: pa.RecordBatch, kind: Kind) -> pa.RecordBatch:
    schema = arrow_schema(kind)
    return pa.RecordBatch.from_arrays([batch.column(n) for n in schema.names], schema=schema)


def export_records(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """Rows as plain records: metadata as an object (omitted when empty). Re-adding them gives the same version."""
    out = []
    for rec in batch.to_pylist():
        meta = rec.pop("metadata", None)
        if meta is not None:
            rec["metadata"] = json.loads(meta)
        out.append(rec)
    return out
