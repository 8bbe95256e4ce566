"""Data service: every interface (SDK, CLI, REST) adds, reads, compares and derives dataset versions here.

An add streams the source into canonical Parquet in a private work folder (``ingest``), stores the
files in the artifact store, then registers the version in one transaction (``versions.register``).
Anything that fails before that transaction — a bad line, PII under ``--pii=block``, Ctrl-C —
leaves no version behind; the work folder goes with it. Identical content is found, not duplicated:
first by the raw file's fingerprint (a cheap read), then by the canonical content hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmloop.context import Context
from llmloop.data import formats, storage, transforms, versions
from llmloop.data.export import write_export
from llmloop.data.ingest import INGEST_VERSION, IngestOptions, IngestResult, Progress, ingest, ingest_batches
from llmloop.data.kinds import FIELDS, Kind, arrow_schema
from llmloop.data.pii import KINDS as PII_KINDS
from llmloop.data.schemas import (
    Dataset,
    DatasetAdd,
    DatasetAddResult,
    DatasetDiff,
    DatasetShow,
    DatasetVersion,
    DiffExamples,
    ExportFormat,
    LeakagePair,
    PiiPolicy,
    Profile,
    SplitResult,
    SplitSpec,
)
from llmloop.data.settings import data_settings
from llmloop.data.splits import assign, cross_leakage
from llmloop.errors import InvalidInput, NotFound, PermissionDenied
from llmloop.refs import validate_name
from llmloop.store.aliases import aliases_of, set_alias
from llmloop.store.lineage import Edge, add_edge
from llmloop.store.projects import project_id
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.datasets import DatasetRow, DatasetVersionRow
from llmloop.store.tables.tracking import RunRow


def _options(spec: DatasetAdd | None = None) -> IngestOptions:
    settings = data_settings()
    opts = IngestOptions(
        max_line_bytes=settings.max_line_bytes,
        batch_rows=settings.batch_rows,
        row_group_rows=settings.row_group_rows,
        ngram_rows=settings.ngram_sample_rows,
    )
    if spec is not None:
        opts.kind, opts.mapping, opts.skip_invalid, opts.tokenizer = (
            spec.kind,
            dict(spec.mapping),
            spec.skip_invalid,
            spec.tokenizer,
        )
    return opts


def _fingerprint(source: formats.Source, opts: IngestOptions) -> str | None:
    """sha256 of the raw bytes and every option that changes the rows; None for sources we cannot re-read cheaply."""
    if source.format == "hf" or not source.files or not all(f.local for f in source.files):
        return None
    h = hashlib.sha256()
    settings = {
        "v": INGEST_VERSION,
        "format": source.format,
        "kind": opts.kind,
        "mapping": sorted(opts.mapping.items()),
        "skip_invalid": opts.skip_invalid,
        "max_line_bytes": opts.max_line_bytes,
    }
    h.update(json.dumps(settings, sort_keys=True).encode())
    for f in source.files:
        h.update(formats.file_digest(f.path).encode())
    return h.hexdigest()


def _enforce_pii(profile: Profile, policy: PiiPolicy, where: str) -> None:
    if policy != "block" or profile.pii_total == 0:
        return
    found = ", ".join(f"{n} {k}" for k, n in profile.pii.items() if n)
    fields = {
        name: {k: n for k, n in f.pii.items() if n}
        for name, f in profile.fields.items()
        if any(f.pii.values())
    }
    raise InvalidInput(
        f"{where}: PII found ({found}) and --pii=block is set: nothing was added. "
        "Redact it (llmloop data redact) or add with --pii=warn.",
        details={"pii": {k: n for k, n in profile.pii.items() if n}, "fields": fields},
    )


def _store(ctx: Context, project: str, name: str, result: IngestResult) -> tuple[Any, Any]:
    """Put the version's files in the artifact store unless identical content is already a version."""
    if versions.by_content(ctx, project, name, result.content_hash):
        return None, None
    return storage.put(ctx, project, result.data_path), storage.put(ctx, project, result.index_path)


def add_version(ctx: Context, *, spec: DatasetAdd, progress: Progress | None = None) -> DatasetAddResult:
    """Ingest ``spec.path`` as a new version of ``spec.name`` (or find the version it already is)."""
    validate_name(spec.name, what="dataset name")
    validate_name(spec.project, what="project")
    ctx.require("datasets:write", spec.project)
    opts = _options(spec)
    source = formats.resolve_source(spec.path, fmt=spec.format, display=spec.display_name)
    fingerprint = _fingerprint(source, opts)
    if fingerprint is not None:
        known = versions.by_fingerprint(ctx, spec.project, spec.name, fingerprint)
        if known is not None:
            _enforce_pii(known.profile, spec.pii, source.display)
            return DatasetAddResult(created=False, version=known)
    with storage.workdir(ctx) as work:
        result = ingest(source, opts, work, progress)
        _enforce_pii(result.profile, spec.pii, source.display)
        data, index = _store(ctx, spec.project, spec.name, result)
        options: dict[str, Any] = {
            "mapping": spec.mapping,
            "skip_invalid": spec.skip_invalid,
            "pii": spec.pii,
            "tokenizer": spec.tokenizer,
            "skipped": result.skipped,
        }
        return versions.register(
            ctx,
            project=spec.project,
            name=spec.name,
            result=result,
            data=data,
            index=index,
            source=source.display,
            fmt=source.format,
            options=options,
            description=spec.description,
            fingerprint=fingerprint,
        )


def _project(ctx: Context, project: str | None) -> str:
    name = project or ctx.settings.default_project
    validate_name(name, what="project")
    return name


def get_version(ctx: Context, *, ref: str, project: str | None = None) -> DatasetVersion:
    project = _project(ctx, project)
    ctx.require("datasets:read", project)
    with ctx.db.session() as s:
        ds, row = versions.resolve(s, project, ref)
        return versions.to_version(s, row, ds, project)


def _dataset(s: Any, ds: DatasetRow, project: str) -> Dataset:
    from sqlalchemy import func, select

    count, latest = s.execute(
        select(func.count(), func.max(DatasetVersionRow.version)).where(DatasetVersionRow.dataset_id == ds.id)
    ).one()
    return Dataset(
        project=project,
        name=ds.name,
        description=ds.description,
        latest_version=latest or 0,
        versions=count,
        aliases=aliases_of(s, project_id=ds.project_id, kind=versions.ALIAS_KIND, name=ds.name),
        created_at=ds.created_at,
    )


def list_datasets(ctx: Context, *, project: str | None = None) -> list[Dataset]:
    """Datasets of one project, or of every project the actor may read."""
    from sqlalchemy import select

    with ctx.db.session() as s:
        projects = {pid: name for pid, name in s.execute(select(ProjectRow.id, ProjectRow.name))}
        if project is not None:
            ctx.require("datasets:read", project)
            wanted = [project_id(s, project)]
        else:
            wanted = [pid for pid, name in projects.items() if ctx.actor.can("datasets:read", name)]
        rows = s.scalars(
            select(DatasetRow)
            .where(DatasetRow.project_id.in_(wanted))
            .order_by(DatasetRow.project_id, DatasetRow.name)
        )
        return [_dataset(s, ds, projects[ds.project_id]) for ds in rows]


def show_dataset(ctx: Context, *, ref: str, project: str | None = None) -> DatasetShow:
    """A dataset, its versions (newest first) and one version in full: ``NAME`` shows the latest."""
    from sqlalchemy import select

    project = _project(ctx, project)
    ctx.require("datasets:read", project)
    with ctx.db.session() as s:
        ds, row = versions.resolve(s, project, ref)
        all_rows = s.scalars(
            select(DatasetVersionRow)
            .where(DatasetVersionRow.dataset_id == ds.id)
            .order_by(DatasetVersionRow.version.desc())
        )
        return DatasetShow(
            dataset=_dataset(s, ds, project),
            versions=[versions.to_summary(s, r, ds, project) for r in all_rows],
            version=versions.to_version(s, row, ds, project),
        )


def alias_version(ctx: Context, *, ref: str, alias: str, project: str | None = None) -> DatasetVersion:
    """Point ``NAME@alias`` at the version ``ref`` names."""
    project = _project(ctx, project)
    ctx.require("datasets:write", project)
    with ctx.db.session() as s:
        ds, row = versions.resolve(s, project, ref)
        set_alias(
            s,
            project_id=ds.project_id,
            kind=versions.ALIAS_KIND,
            name=ds.name,
            alias=alias,
            version=row.version,
        )
        s.flush()
        return versions.to_version(s, row, ds, project)


def record_use(ctx: Context, *, ref: str, run_id: str, project: str | None = None) -> None:
    """A lineage edge from the version to a run that reads it."""
    version = get_version(ctx, ref=ref, project=project)
    with ctx.db.session() as s:
        if s.get(RunRow, run_id) is None:
            raise NotFound(f"run {run_id!r} not found", details={"run_id": run_id})
        add_edge(s, Edge(versions.ENTITY, version.id, "input_to", "run", run_id))


def iter_batches(
    ctx: Context, version: DatasetVersion, *, split: str | None = None, batch_rows: int = 8192
) -> Iterator[pa.RecordBatch]:
    """The version's canonical rows (one split of them when asked), a batch at a time."""
    if split is not None and split not in (version.splits or {}):
        raise NotFound(
            f"{version.ref} has no split {split!r}; it has {sorted(version.splits or {}) or 'none'}",
            details={"ref": version.ref, "split": split},
        )
    for batch in storage.iter_batches(ctx, version.project, version.data_sha256, batch_rows=batch_rows):
        if split is not None:
            batch = batch.filter(pc.equal(batch.column("split"), split))
        if batch.num_rows:
            yield batch


def read_table(ctx: Context, version: DatasetVersion, *, split: str | None = None) -> pa.Table:
    schema = arrow_schema(version.kind, with_split=bool(version.splits))
    return pa.Table.from_batches(list(iter_batches(ctx, version, split=split)), schema=schema)


def diff_versions(ctx: Context, *, a: str, b: str, project: str | None = None) -> DatasetDiff:
    """Rows added, removed and changed from ``a`` to ``b``, compared by row hash; "changed" = same key."""
    va, vb = get_version(ctx, ref=a, project=project), get_version(ctx, ref=b, project=project)
    row_a, key_a, _ = storage.read_index(ctx, va.project, va.index_sha256)
    row_b, key_b, _ = storage.read_index(ctx, vb.project, vb.index_sha256)
    only_a = ~np.isin(row_a, row_b)
    only_b = ~np.isin(row_b, row_a)
    changed_b = only_b & np.isin(key_b, key_a[only_a])
    changed_a = only_a & np.isin(key_a, key_b[only_b])
    removed = only_a & ~changed_a
    added = only_b & ~changed_b
    pairs: list[tuple[int, int]] = []
    first_in_a: dict[int, int] = {}
    for i in np.flatnonzero(changed_a):
        first_in_a.setdefault(int(key_a[i]), int(i))
    for j in np.flatnonzero(changed_b)[:10].tolist():
        match = first_in_a.get(int(key_b[j]))
        if match is not None:
            pairs.append((match, j))
    return DatasetDiff(
        a=va.ref,
        b=vb.ref,
        added=int(added.sum()),
        removed=int(removed.sum()),
        changed=int(changed_b.sum()),
        unchanged=int((~only_b).sum()),
        examples=DiffExamples(
            added=np.flatnonzero(added)[:10].tolist(),
            removed=np.flatnonzero(removed)[:10].tolist(),
            changed=pairs,
        ),
    )


def check_leakage(ctx: Context, *, a: str, b: str, project: str | None = None) -> LeakagePair:
    """Rows of ``b`` that also appear in ``a`` (e.g. an eval set against a training set)."""
    va, vb = get_version(ctx, ref=a, project=project), get_version(ctx, ref=b, project=project)
    row_a, key_a, _ = storage.read_index(ctx, va.project, va.index_sha256)
    row_b, key_b, _ = storage.read_index(ctx, vb.project, vb.index_sha256)
    return cross_leakage(va.ref, row_a, key_a, vb.ref, row_b, key_b)


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
        result = ingest_batches(batches, kind, arrow_schema(kind, with_split=with_split), work, _options())
        if result.rows == 0:
            raise InvalidInput(
                f"{relation} version of {parent.ref} would have no rows", details={"ref": parent.ref}
            )
        data, index = _store(ctx, parent.project, name, result)
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
    parent = get_version(ctx, ref=ref, project=project)
    ctx.require("datasets:write", parent.project)
    bad = sorted(set(kinds or []) - set(PII_KINDS))
    if bad:
        raise InvalidInput(
            f"unknown PII kind {bad[0]!r}; known: {', '.join(PII_KINDS)}", details={"field": "kinds"}
        )
    batches = (transforms.redact_batch(b, kinds) for b in iter_batches(ctx, parent))
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
    parent = get_version(ctx, ref=ref, project=project)
    ctx.require("datasets:write", parent.project)
    row64, _, near_hash = storage.read_index(ctx, parent.project, parent.index_sha256)
    hashes = near_hash if near else row64
    keep = np.zeros(len(hashes), dtype=bool)
    keep[np.unique(hashes, return_index=True)[1]] = True

    def batches() -> Iterator[pa.RecordBatch]:
        start = 0
        for batch in iter_batches(ctx, parent):
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
    names = [*FIELDS[parent.kind], "metadata", "split"]
    if field not in names or (field == "metadata") != bool(key) or field == "messages":
        raise InvalidInput(
            f"cannot stratify by {column!r}: use a text field ({', '.join(FIELDS[parent.kind])}) or metadata.KEY",
            details={"field": "stratify"},
        )
    values: list[str] = []
    for batch in iter_batches(ctx, parent):
        for v in batch.column(field).to_pylist():
            if field == "metadata":
                v = json.loads(v).get(key) if v is not None else None
            values.append("" if v is None else str(v))
    return np.array(values, dtype=object)


def split_version(ctx: Context, *, ref: str, spec: SplitSpec, project: str | None = None) -> SplitResult:
    """Assign every row to a split by its seeded key hash; one child version with a ``split`` column,
    or one version per split in datasets named ``NAME-SPLIT``."""
    parent = get_version(ctx, ref=ref, project=project)
    ctx.require("datasets:write", parent.project)
    _, key, _ = storage.read_index(ctx, parent.project, parent.index_sha256)
    strata = _strata(ctx, parent, spec.stratify) if spec.stratify else None
    names = np.array(list(spec.fractions), dtype=object)
    labels = names[assign(key, spec.fractions, spec.seed, strata)]
    counts = {str(n): int((labels == n).sum()) for n in names}
    options = spec.model_dump(mode="json")

    def batches(only: str | None = None) -> Iterator[pa.RecordBatch]:
        start = 0
        for batch in iter_batches(ctx, parent):
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
    version = get_version(ctx, ref=ref, project=project)
    schema = arrow_schema(version.kind, with_split=bool(version.splits) and split is None)
    batches = iter_batches(ctx, version, split=split)
    if split is not None:
        batches = (transforms.without_split(b, version.kind) for b in batches)
    return write_export(batches, schema, dest, fmt)


def _confine(path: str, root: Path | None) -> Path:
    """A server-side path, resolved (symlinks followed) and proven to lie under the import root."""
    if root is None:
        raise PermissionDenied(
            "server-side import is disabled: upload the file instead, or set LLMLOOP_DATA_IMPORT_ROOT on the server",
            details={"field": "path"},
        )
    if "://" in path:
        raise InvalidInput(
            "server-side import reads files under the import root only, not URLs", details={"field": "path"}
        )
    base = root.expanduser().resolve()
    candidate = Path(path) if Path(path).is_absolute() else base / path
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base):
        raise PermissionDenied(f"{path!r} is outside the import root", details={"field": "path"})
    return resolved


def import_version(ctx: Context, *, spec: DatasetAdd) -> DatasetAddResult:
    """``add_version`` for a path on the *server*, which must stay inside ``LLMLOOP_DATA_IMPORT_ROOT``."""
    ctx.require("datasets:write", spec.project)
    root = data_settings().import_root
    resolved = _confine(spec.path, root)
    assert root is not None
    base = root.expanduser().resolve()
    source = formats.resolve_source(str(resolved), fmt=spec.format)
    files = [Path(f.path) for f in source.files] or [p for p in resolved.rglob("*") if p.is_file()]
    if any(
        not p.resolve().is_relative_to(base) for p in files
    ):  # a glob match or folder entry may be a symlink
        raise PermissionDenied(f"{spec.path!r} reaches outside the import root", details={"field": "path"})
    tokenizer = str(_confine(spec.tokenizer, root)) if spec.tokenizer else None
    return add_version(
        ctx,
        spec=spec.model_copy(
            update={"path": str(resolved), "tokenizer": tokenizer, "display_name": spec.path}
        ),
    )
