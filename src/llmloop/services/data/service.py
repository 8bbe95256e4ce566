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
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound, PermissionDenied
from llmloop.refs import validate_name
from llmloop.security import audit
from llmloop.services.data import derive, export, formats, rows, storage, versions
from llmloop.services.data.ingest import INGEST_VERSION, IngestOptions, Progress, ingest, ingest_options
from llmloop.services.data.schemas import (
    Dataset,
    DatasetAdd,
    DatasetAddResult,
    DatasetDiff,
    DatasetShow,
    DatasetVersion,
    DiffExamples,
    LeakagePair,
    PiiPolicy,
    Profile,
)
from llmloop.services.data.settings import data_settings
from llmloop.services.data.splits import cross_leakage
from llmloop.store.aliases import aliases_of, set_alias
from llmloop.store.lineage import Edge, add_edge
from llmloop.store.projects import project_id, project_name
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.datasets import DatasetRow, DatasetVersionRow
from llmloop.store.tables.tracking import RunRow

# Read, derive and export live in their own modules; they are part of this service's surface.
get_version = versions.get_version
iter_batches = versions.iter_batches
get_rows = rows.get_rows
read_table = versions.read_table
redact_version = derive.redact_version
dedup_version = derive.dedup_version
split_version = derive.split_version
export_version = export.export_version


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


def add_version(ctx: Context, *, spec: DatasetAdd, progress: Progress | None = None) -> DatasetAddResult:
    """Ingest ``spec.path`` as a new version of ``spec.name`` (or find the version it already is)."""
    validate_name(spec.name, what="dataset name")
    validate_name(spec.project, what="project")
    ctx.require("datasets:write", spec.project)
    opts = ingest_options(spec)
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
        data, index = versions.store_files(ctx, spec.project, spec.name, result)
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


def _dataset(s: Session, ds: DatasetRow, project: str) -> Dataset:
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
    project = versions.project_or_default(ctx, project)
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
    project = versions.project_or_default(ctx, project)
    ctx.require("datasets:write", project)
    with ctx.db.session() as s:
        ds, row = versions.resolve(s, project, ref)
        before = set_alias(
            s,
            project_id=ds.project_id,
            kind=versions.ALIAS_KIND,
            name=ds.name,
            alias=alias,
            version=row.version,
        )
        s.flush()
        result = versions.to_version(s, row, ds, project)
        audit.record(
            s,
            ctx,
            "datasets.alias",
            f"dataset:{ds.name}@{alias}",
            {"version": before},
            {"version": row.version},
            project=project,
        )
        return result


def record_use(ctx: Context, *, ref: str, run_id: str, project: str | None = None) -> None:
    """A lineage edge from the version to a run that reads it.

    The edge is written on the run's behalf, so the caller must be able to write that run
    (another project's run reads as absent, exactly like an unknown id) and read the version.
    """
    version = versions.get_version(ctx, ref=ref, project=project)
    with ctx.db.session() as s:
        run = s.get(RunRow, run_id)
        missing = NotFound(f"run {run_id!r} not found", details={"run_id": run_id})
        if run is None:
            raise missing
        ctx.require("runs:write", project_name(s, run.project_id), missing=missing)
        add_edge(s, Edge(versions.ENTITY, version.id, "input_to", "run", run_id))
        audit.record(
            s, ctx, "datasets.use", f"dataset:{version.ref}", after={"run": run_id}, project=version.project
        )


def diff_versions(ctx: Context, *, a: str, b: str, project: str | None = None) -> DatasetDiff:
    """Rows added, removed and changed from ``a`` to ``b``, compared by row hash; "changed" = same key."""
    va, vb = (
        versions.get_version(ctx, ref=a, project=project),
        versions.get_version(ctx, ref=b, project=project),
    )
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
    va, vb = (
        versions.get_version(ctx, ref=a, project=project),
        versions.get_version(ctx, ref=b, project=project),
    )
    row_a, key_a, _ = storage.read_index(ctx, va.project, va.index_sha256)
    row_b, key_b, _ = storage.read_index(ctx, vb.project, vb.index_sha256)
    return cross_leakage(va.ref, row_a, key_a, vb.ref, row_b, key_b)


def confine_server_path(path: str, root: Path | None) -> Path:
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
    resolved = confine_server_path(spec.path, root)
    assert root is not None
    base = root.expanduser().resolve()
    source = formats.resolve_source(str(resolved), fmt=spec.format)
    files = [Path(f.path) for f in source.files] or [p for p in resolved.rglob("*") if p.is_file()]
    if any(
        not p.resolve().is_relative_to(base) for p in files
    ):  # a glob match or folder entry may be a symlink
        raise PermissionDenied(f"{spec.path!r} reaches outside the import root", details={"field": "path"})
    tokenizer = str(confine_server_path(spec.tokenizer, root)) if spec.tokenizer else None
    return add_version(
        ctx,
        spec=spec.model_copy(
            update={"path": str(resolved), "tokenizer": tokenizer, "display_name": spec.path}
        ),
    )
