"""Writing canonical batches out as JSONL, CSV, Parquet or a saved Hugging Face dataset.

Shared by the service (local store) and the remote SDK (batches downloaded from a server), so an
export looks the same either way. Files are written to a temp name and renamed into place.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmloop.context import Context
from llmloop.errors import Unavailable
from llmloop.services.data import transforms, versions
from llmloop.services.data.kinds import arrow_schema
from llmloop.services.data.schemas import ExportFormat
from llmloop.services.data.transforms import export_records


def write_export(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, dest: str | Path, fmt: ExportFormat
) -> Path:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        return _write_hf(pa.Table.from_batches(list(batches), schema=schema), dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    os.close(fd)
    try:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as out:
                for batch in batches:
                    for rec in export_records(batch):
                        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            with pq.ParquetWriter(tmp, schema) as writer:
                for batch in batches:
                    writer.write_batch(batch)
        else:
            _write_csv(batches, Path(tmp))
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


def _write_csv(batches: Iterable[pa.RecordBatch], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer: Any = None
        for batch in batches:
            for rec in batch.to_pylist():  # message lists as JSON text: CSV cells hold strings only
                rec = {
                    k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in rec.items()
                }
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(rec))
                    writer.writeheader()
                writer.writerow({k: "" if v is None else v for k, v in rec.items()})


def to_hf(table: pa.Table) -> Any:
    """A ``datasets.Dataset``, or a ``DatasetDict`` keyed by split when the table has a split column."""
    try:
        import datasets
    except ImportError as e:
        raise Unavailable("Hugging Face datasets need: pip install 'llmloop[train]'") from e
    if "split" not in table.column_names:
        return datasets.Dataset(table)
    names = sorted(set(table.column("split").to_pylist()))
    return datasets.DatasetDict(
        {
            name: datasets.Dataset(
                table.filter(pc.equal(table.column("split"), name)).drop_columns(["split"])
            )
            for name in names
        }
    )


def _write_hf(table: pa.Table, dest: Path) -> Path:
    to_hf(table).save_to_disk(str(dest))
    return dest


def export_version(
    ctx: Context,
    *,
    ref: str,
    dest: str | Path,
    fmt: ExportFormat = "jsonl",
    split: str | None = None,
    project: str | None = None,
) -> Path:
    """Write a version's rows to ``dest``; re-adding a JSONL export gives the same version back."""
    version = versions.get_version(ctx, ref=ref, project=project)
    schema = arrow_schema(version.kind, with_split=bool(version.splits) and split is None)
    batches = versions.iter_batches(ctx, version, split=split)
    if split is not None:
        batches = (transforms.without_split(b, version.kind) for b in batches)
    return write_export(batches, schema, dest, fmt)
