"""Child versions made from a parent's rows: redacted, deduplicated, split. Each points back at its parent.

A child goes through the same hashing, profiling and writing as a fresh ingest, so it has its own
content hash (deriving twice finds the same child) and its own profile, and a lineage edge
``parent --relation--> child`` is written in the same transaction as the child.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from llmloop.context import Context
from llmloop.errors import InvalidInput
from llmloop.refs import validate_name
from llmloop.services.data import storage, transforms, versions
from llmloop.services.data.ingest import ingest_batches, ingest_options
from llmloop.services.data.kinds import FIELDS, MESSAGE_FIELDS, Kind, arrow_schema
from llmloop.services.data.pii import KINDS as PII_KINDS
from llmloop.services.data.schemas import DatasetAddResult, DatasetVersion, SplitResult, SplitSpec
from llmloop.services.data.splits import assign


def _derive(
    ctx: Context,
    parent: DatasetVersion,
    *,
    name: str,
    batches: Iterator[pa.RecordBatch],
    kind: Kind,
    with_split: bool,
    relation: str,
    options: dict[str, Any],
) -> DatasetAddResult:
    """Write a child version of ``parent`` from transformed batches and register it with its lineage."""
    validate_name(name, what="dataset name")
    with storage.workdir(ctx) as work:
        result = ingest_batches(
            batches, kind, arrow_schema(kind, with_split=with_split), work, ingest_options()
        )
        if result.rows == 0:
            raise InvalidInput(
                f"{relation} version of {parent.ref} would have no rows", details={"ref": parent.ref}
            )
        data, index = versions.store_files(ctx, parent.project, name, result)
        return versions.register(
            ctx,
            project=parent.project,
            name=name,
            result=result,
            data=data,
            index=index,
            source=parent.ref,
            fmt="derived",
            options=options,
            parent_id=parent.id,
            relation=relation,
        )


def redact_version(
    ctx: Context, *, ref: str, project: str | None = None, kinds: list[str] | None = None
) -> DatasetAddResult:
    """A child version with every PII finding replaced by its placeholder (``<EMAIL>``…)."""
    parent = versions.get_version(ctx, ref=ref, project=project)
    ctx.require("datasets:write", parent.project)
    bad = sorted(set(kinds or []) - set(PII_KINDS))
    if bad:
        raise InvalidInput(
            f"unknown PII kind {bad[0]!r}; known: {', '.join(PII_KINDS)}", details={"field": "kinds"}
        )
    batches = (transforms.redact_batch(b, kinds) for b in versions.iter_batches(ctx, parent))
    return _derive(
        ctx,
        parent,
        name=parent.name,
        batches=batches,
        kind=parent.kind,
        with_split=bool(parent.splits),
        relation="redacted",
        options={"kinds": kinds or list(PII_KINDS)},
    )


def dedup_version(
    ctx: Context, *, ref: str, project: str | None = None, near: bool = False
) -> DatasetAddResult:
    """A child version keeping the first of each group of exact (or, with ``near``, normalised) duplicates."""
    parent = versions.get_version(ctx, ref=ref, project=project)
    ctx.require("datasets:write", parent.project)
    row64, _, near_hash = storage.read_index(ctx, parent.project, parent.index_sha256)
    hashes = near_hash if near else row64
    keep = np.zeros(len(hashes), dtype=bool)
    keep[np.unique(hashes, return_index=True)[1]] = True

    def batches() -> Iterator[pa.RecordBatch]:
        start = 0
        for batch in versions.iter_batches(ctx, parent):
            yield batch.filter(pa.array(keep[start : start + batch.num_rows]))
            start += batch.num_rows

    return _derive(
        ctx,
        parent,
        name=parent.name,
        batches=batches(),
        kind=parent.kind,
        with_split=bool(parent.splits),
        relation="deduplicated",
        options={"near": near},
    )


def _strata(ctx: Context, parent: DatasetVersion, column: str) -> np.ndarray:
    field, _, key = column.partition(".")
    texts = [f for f in FIELDS[parent.kind] if f not in MESSAGE_FIELDS.get(parent.kind, ())]
    if field not in [*texts, "metadata", "split"] or (field == "metadata") != bool(key):
        raise InvalidInput(
            f"cannot stratify by {column!r}: use a text field ({', '.join(texts) or 'none here'}) or metadata.KEY",
            details={"field": "stratify"},
        )
    values: list[str] = []
    for batch in versions.iter_batches(ctx, parent):
        for v in batch.column(field).to_pylist():
            if field == "metadata":
                v = json.loads(v).get(key) if v is not None else None
            values.append("" if v is None else str(v))
    return np.array(values, dtype=object)


def split_version(ctx: Context, *, ref: str, spec: SplitSpec, project: str | None = None) -> SplitResult:
    """Assign every row to a split by its seeded key hash; one child version with a ``split`` column,
    or one version per split in datasets named ``NAME-SPLIT``."""
    parent = versions.get_version(ctx, ref=ref, project=project)
    ctx.require("datasets:write", parent.project)
    _, key, _ = storage.read_index(ctx, parent.project, parent.index_sha256)
    strata = _strata(ctx, parent, spec.stratify) if spec.stratify else None
    names = np.array(list(spec.fractions), dtype=object)
    labels = names[assign(key, spec.fractions, spec.seed, strata)]
    counts = {str(n): int((labels == n).sum()) for n in names}
    options = spec.model_dump(mode="json")

    def batches(only: str | None = None) -> Iterator[pa.RecordBatch]:
        start = 0
        for batch in versions.iter_batches(ctx, parent):
            part = labels[start : start + batch.num_rows]
            start += batch.num_rows
            if only is None:
                yield transforms.with_split(batch, parent.kind, part)
            else:
                yield transforms.without_split(batch.filter(pa.array(part == only)), parent.kind)

    made: list[DatasetVersion] = []
    if spec.into == "column":
        made.append(
            _derive(
                ctx,
                parent,
                name=parent.name,
                batches=batches(),
                kind=parent.kind,
                with_split=True,
                relation="split",
                options=options,
            ).version
        )
        leakage = made[0].profile.leakage or []
    else:
        for split in counts:
            if counts[split]:
                made.append(
                    _derive(
                        ctx,
                        parent,
                        name=f"{parent.name}-{split}",
                        batches=batches(split),
                        kind=parent.kind,
                        with_split=False,
                        relation="split",
                        options={**options, "split": split},
                    ).version
                )
        leakage = []
    return SplitResult(versions=made, counts=counts, leakage=leakage)
