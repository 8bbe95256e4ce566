"""Version records: finding a dataset version by reference, reading its rows, registering a new one.

Registration runs after the version's files are in the artifact store, and writes the dataset (if
new), the version, its source fingerprint, its lineage edge and its audit event in one transaction. Two writers that
race for the same version number or dataset name see ``Conflict`` and retry; the same content is
never registered twice (a unique content hash per dataset).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import Conflict, NotFound
from llmloop.refs import parse_ref, validate_name
from llmloop.security import audit
from llmloop.services.data import storage
from llmloop.services.data.ingest import IngestResult
from llmloop.services.data.kinds import arrow_schema, upgrade_batch
from llmloop.services.data.schemas import DatasetAddResult, DatasetVersion, DatasetVersionSummary, Profile
from llmloop.store.aliases import aliases_of, resolve_version
from llmloop.store.artifacts import Blob
from llmloop.store.lineage import Edge, add_edge
from llmloop.store.projects import project_id
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.datasets import DatasetRow, DatasetSourceRow, DatasetVersionRow

ALIAS_KIND = "dataset"
ENTITY = "dataset_version"


def find_dataset(s: Session, pid: str, name: str) -> DatasetRow | None:
    return s.scalar(select(DatasetRow).where(DatasetRow.project_id == pid, DatasetRow.name == name))


def latest_number(s: Session, dataset_id: str) -> int | None:
    return s.scalar(
        select(func.max(DatasetVersionRow.version)).where(DatasetVersionRow.dataset_id == dataset_id)
    )


def resolve(s: Session, project: str, ref_text: str) -> tuple[DatasetRow, DatasetVersionRow]:
    """The dataset and version a ``NAME``, ``NAME@V`` or ``NAME@ALIAS`` names in a project."""
    ref = parse_ref(ref_text)
    pid = project_id(s, project)
    ds = find_dataset(s, pid, ref.name)
    if ds is None:
        raise NotFound(f"dataset {ref.name!r} not found in project {project!r}", details={"ref": ref_text})
    number = resolve_version(s, ref, project_id=pid, kind=ALIAS_KIND, latest=lambda: latest_number(s, ds.id))
    row = s.scalar(
        select(DatasetVersionRow).where(
            DatasetVersionRow.dataset_id == ds.id, DatasetVersionRow.version == number
        )
    )
    if row is None:
        raise NotFound(f"dataset version {ref.name}@{number} not found", details={"ref": ref_text})
    return ds, row


def _parent_ref(s: Session, parent_id: str | None) -> str | None:
    if parent_id is None:
        return None
    parent = s.get(DatasetVersionRow, parent_id)
    if parent is None:
        return None
    ds = s.get(DatasetRow, parent.dataset_id)
    return f"{ds.name}@{parent.version}" if ds is not None else None


def summary_fields(s: Session, row: DatasetVersionRow, ds: DatasetRow, project: str) -> dict[str, Any]:
    aliases = aliases_of(s, project_id=ds.project_id, kind=ALIAS_KIND, name=ds.name)
    profile = row.profile or {}
    return {
        "id": row.id,
        "project": project,
        "name": ds.name,
        "version": row.version,
        "ref": f"{ds.name}@{row.version}",
        "kind": row.kind,
        "rows": row.rows,
        "invalid_rows": row.invalid_rows,
        "content_hash": row.content_hash,
        "data_sha256": row.data_sha256,
        "data_size": row.data_size,
        "format": row.format,
        "source": row.source,
        "options": row.options or {},
        "parent": _parent_ref(s, row.parent_id),
        "relation": row.relation,
        "aliases": sorted(a for a, v in aliases.items() if v == row.version),
        "splits": profile.get("splits"),
        "pii_total": sum((profile.get("pii") or {}).values()),
        "created_at": row.created_at,
        "created_by": row.created_by,
        "description": row.description,
    }


def to_summary(s: Session, row: DatasetVersionRow, ds: DatasetRow, project: str) -> DatasetVersionSummary:
    return DatasetVersionSummary(**summary_fields(s, row, ds, project))


def to_version(s: Session, row: DatasetVersionRow, ds: DatasetRow, project: str) -> DatasetVersion:
    return DatasetVersion(
        **summary_fields(s, row, ds, project),
        index_sha256=row.index_sha256,
        profile=Profile.model_validate(row.profile),
    )


def by_fingerprint(ctx: Context, project: str, name: str, fingerprint: str) -> DatasetVersion | None:
    with ctx.db.session() as s:
        try:
            pid = project_id(s, project)
        except NotFound:
            return None
        ds = find_dataset(s, pid, name)
        if ds is None:
            return None
        src = s.get(DatasetSourceRow, (ds.id, fingerprint))
        row = s.get(DatasetVersionRow, src.version_id) if src is not None else None
        return to_version(s, row, ds, project) if row is not None else None


def by_content(ctx: Context, project: str, name: str, content_hash: str) -> bool:
    with ctx.db.session() as s:
        try:
            pid = project_id(s, project)
        except NotFound:
            return False
        ds = find_dataset(s, pid, name)
        return ds is not None and (
            s.scalar(
                select(DatasetVersionRow.id).where(
                    DatasetVersionRow.dataset_id == ds.id, DatasetVersionRow.content_hash == content_hash
                )
            )
            is not None
        )


def register(
    ctx: Context,
    *,
    project: str,
    name: str,
    result: IngestResult,
    data: Blob | None,
    index: Blob | None,
    source: str,
    fmt: str,
    options: dict[str, Any],
    description: str = "",
    fingerprint: str | None = None,
    parent_id: str | None = None,
    relation: str | None = None,
) -> DatasetAddResult:
    """Record a version whose files are stored (``data``/``index``; None when the content is known to exist)."""
    for attempt in range(5):
        try:
            with ctx.db.session() as s:
                pid = project_id(s, project, create=True)
                ds = find_dataset(s, pid, name)
                if ds is None:
                    ds = DatasetRow(
                        id=uuid.uuid4().hex,
                        project_id=pid,
                        name=name,
                        description=description,
                        created_by=ctx.actor.id,
                    )
                    s.add(ds)
                    s.flush()
                row = s.scalar(
                    select(DatasetVersionRow).where(
                        DatasetVersionRow.dataset_id == ds.id,
                        DatasetVersionRow.content_hash == result.content_hash,
                    )
                )
                created = row is None
                if row is None:
                    if data is None or index is None:
                        raise Conflict(f"dataset {name!r} changed while adding; try again")
                    row = DatasetVersionRow(
                        id=uuid.uuid4().hex,
                        dataset_id=ds.id,
                        version=(latest_number(s, ds.id) or 0) + 1,
                        kind=result.kind,
                        content_hash=result.content_hash,
                        rows=result.rows,
                        invalid_rows=result.invalid_rows,
                        data_sha256=data.sha256,
                        data_size=data.size,
                        index_sha256=index.sha256,
                        format=fmt,
                        source=source,
                        options=options,
                        profile=result.profile.model_dump(mode="json"),
                        parent_id=parent_id,
                        relation=relation,
                        description=description,
                        created_by=ctx.actor.id,
                    )
                    s.add(row)
                    s.flush()
                    if parent_id is not None and relation is not None:
                        add_edge(s, Edge(ENTITY, parent_id, relation, ENTITY, row.id))
                if fingerprint is not None and s.get(DatasetSourceRow, (ds.id, fingerprint)) is None:
                    s.add(DatasetSourceRow(dataset_id=ds.id, fingerprint=fingerprint, version_id=row.id))
                version = to_version(s, row, ds, project)
                if created:
                    after = {
                        "content_hash": row.content_hash,
                        "rows": row.rows,
                        "parent": version.parent,
                        "relation": relation,
                    }
                    audit.record(
                        s, ctx, "datasets.add", f"dataset:{version.ref}", after=after, project=project
                    )
            return DatasetAddResult(created=created, version=version)
        except Conflict:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def project_or_default(ctx: Context, project: str | None) -> str:
    name = project or ctx.settings.default_project
    validate_name(name, what="project")
    return name


def get_version(ctx: Context, *, ref: str, project: str | None = None) -> DatasetVersion:
    """The version ``NAME``, ``NAME@V`` or ``NAME@ALIAS`` names, with its profile."""
    project = project_or_default(ctx, project)
    ctx.require("datasets:read", project)
    with ctx.db.session() as s:
        ds, row = resolve(s, project, ref)
        return to_version(s, row, ds, project)


_PIN = (
    select(DatasetVersionRow.id, DatasetVersionRow.content_hash)
    .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
    .join(ProjectRow, ProjectRow.id == DatasetRow.project_id)
    .where(
        ProjectRow.name == bindparam("project"),
        DatasetRow.name == bindparam("name"),
        DatasetVersionRow.version == bindparam("version"),
    )
)


def pin(ctx: Context, *, ref: str, project: str | None = None) -> tuple[str, str, str]:
    """``(NAME@V, version id, content hash)`` of what ``ref`` names, without loading its profile.

    What a pipeline's cache key needs per dataset input: one indexed lookup for ``NAME@V``
    (an alias or the latest version resolves first), whatever the dataset's size.
    """
    project = project_or_default(ctx, project)
    ctx.require("datasets:read", project)
    parsed = parse_ref(ref)
    if parsed.version is None:
        _, row = _resolve_in_session(ctx, project, ref)
        return f"{parsed.name}@{row.version}", row.id, row.content_hash
    with ctx.db.connect() as conn:
        found = conn.execute(
            _PIN, {"project": project, "name": parsed.name, "version": parsed.version}
        ).first()
    if found is None:
        raise NotFound(f"dataset version {ref} not found in project {project!r}", details={"ref": ref})
    return f"{parsed.name}@{parsed.version}", found[0], found[1]


def _resolve_in_session(ctx: Context, project: str, ref: str) -> tuple[DatasetRow, DatasetVersionRow]:
    with ctx.db.session() as s:
        return resolve(s, project, ref)


def iter_batches(
    ctx: Context, version: DatasetVersion, *, split: str | None = None, batch_rows: int = 8192
) -> Iterator[pa.RecordBatch]:
    """The version's canonical rows (one split of them when asked), a batch at a time."""
    if split is not None and split not in (version.splits or {}):
        raise NotFound(
            f"{version.ref} has no split {split!r}; it has {sorted(version.splits or {}) or 'none'}",
            details={"ref": version.ref, "split": split},
        )
    for stored in storage.iter_batches(ctx, version.project, version.data_sha256, batch_rows=batch_rows):
        batch = upgrade_batch(stored, version.kind)
        if split is not None:
            batch = batch.filter(pc.equal(batch.column("split"), split))
        if batch.num_rows:
            yield batch


def read_table(ctx: Context, version: DatasetVersion, *, split: str | None = None) -> pa.Table:
    schema = arrow_schema(version.kind, with_split=bool(version.splits))
    return pa.Table.from_batches(list(iter_batches(ctx, version, split=split)), schema=schema)


def store_files(
    ctx: Context, project: str, name: str, result: IngestResult
) -> tuple[Blob | None, Blob | None]:
    """Put a version's files in the artifact store, unless identical content is already a version."""
    if by_content(ctx, project, name, result.content_hash):
        return None, None
    return storage.put(ctx, project, result.data_path), storage.put(ctx, project, result.index_path)
