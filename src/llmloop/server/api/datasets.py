"""/api/v1/datasets: the data service over HTTP, same schemas as the SDK and ``llmloop data --json``.

A version in a path is a number, an alias, or ``latest``. New versions come from an upload (the
request body is the file, streamed to disk, never held in memory) or, when the server allows it
(``LLMLOOP_DATA_IMPORT_ROOT``), from a server-side path that must stay inside that root. Every
endpoint is mounted from the route table (``llmloop.client.datasets.ROUTES``), which also drives
``RemoteDatasets``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import PurePosixPath

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from llmloop.client.datasets import (
    AliasRequest,
    DatasetImport,
    DatasetList,
    DedupRequest,
    RedactRequest,
    UseRequest,
)
from llmloop.errors import InvalidInput
from llmloop.refs import validate_name
from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.data import formats, service, storage
from llmloop.services.data.kinds import Kind, parse_mapping
from llmloop.services.data.schemas import (
    DatasetAdd,
    DatasetAddResult,
    DatasetDiff,
    DatasetShow,
    DatasetVersion,
    Format,
    LeakagePair,
    PiiPolicy,
    Profile,
    Rows,
    SplitResult,
    SplitSpec,
    validated,
)

router = APIRouter(prefix="/datasets", tags=["datasets"])


def ref_of(name: str, version: str) -> str:
    """``name`` + a path version (number, alias or 'latest') as a reference."""
    validate_name(name, what="dataset name")
    if "@" in version:
        return version  # a full reference (diff across datasets)
    return name if version == "latest" else f"{name}@{version}"


def _status(response: Response, result: DatasetAddResult) -> DatasetAddResult:
    response.status_code = 201 if result.created else 200
    return result


@mount(router, "datasets.list")
def list_datasets(ctx: CtxDep, project: str | None = None) -> DatasetList:
    return DatasetList(items=service.list_datasets(ctx, project=project))


@mount(router, "datasets.show")
def show_dataset(ctx: CtxDep, name: str, project: str | None = None, version: str = "latest") -> DatasetShow:
    return service.show_dataset(ctx, ref=ref_of(name, version), project=project)


@mount(router, "datasets.get_version")
def get_version(ctx: CtxDep, name: str, version: str, project: str | None = None) -> DatasetVersion:
    return service.get_version(ctx, ref=ref_of(name, version), project=project)


@mount(router, "datasets.profile")
def get_profile(ctx: CtxDep, name: str, version: str, project: str | None = None) -> Profile:
    return service.get_version(ctx, ref=ref_of(name, version), project=project).profile


@mount(router, "datasets.profile_png", response_class=Response)
def profile_png(
    ctx: CtxDep, name: str, version: str, project: str | None = None, field: str | None = None
) -> Response:
    """Token-length histograms of the version's fields (or one field) as a PNG a person can look at."""
    from llmloop.services.data.charts import token_histograms

    v = service.get_version(ctx, ref=ref_of(name, version), project=project)
    return Response(token_histograms(v, field), media_type="image/png")


@mount(router, "datasets.rows")
def get_rows(
    ctx: CtxDep,
    name: str,
    version: str,
    project: str | None = None,
    split: str | None = None,
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=1000),
    q: str | None = Query(None, description="Search: only rows holding this text, scanned from offset."),
) -> Rows:
    """One page of rows, or of the rows matching ``q``; the paging and search live in the data
    service (``services/data/rows.py``), shared with the local client."""
    return service.get_rows(
        ctx, ref=ref_of(name, version), project=project, split=split, offset=offset, limit=limit, q=q
    )


@mount(router, "datasets.download")
def download_data(ctx: CtxDep, name: str, version: str, project: str | None = None) -> StreamingResponse:
    """The version's canonical Parquet file, streamed and verified against its hash."""
    v = service.get_version(ctx, ref=ref_of(name, version), project=project)

    def body() -> Iterator[bytes]:
        with storage.local_copy(ctx, v.project, v.data_sha256) as path, open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk

    return StreamingResponse(
        body(),
        media_type="application/vnd.apache.parquet",
        headers={"x-llmloop-sha256": v.data_sha256, "content-length": str(v.data_size)},
    )


@mount(router, "datasets.upload")
async def upload_version(
    ctx: CtxDep,
    name: str,
    request: Request,
    response: Response,
    filename: str = Query(..., description="The uploaded file's name; its extension gives the format."),
    project: str = "default",
    kind: Kind | None = None,
    format: Format | None = None,
    map: list[str] = Query(default_factory=list, description="SOURCE=TARGET field mappings."),
    skip_invalid: bool = False,
    pii: PiiPolicy = "warn",
    description: str = "",
) -> DatasetAddResult:
    """Add a version from the request body (the file itself)."""
    validate_name(name, what="dataset name")
    ctx.require("datasets:write", project)
    base = PurePosixPath(filename.replace("\\", "/")).name
    if not base or base.startswith(".") or len(base) > 255 or any(ord(c) < 32 for c in base):
        raise InvalidInput(f"invalid filename {filename[:80]!r}", details={"field": "filename"})
    spec = validated(
        DatasetAdd,
        name=name,
        path="",
        project=project,
        kind=kind,
        format=format,
        mapping=parse_mapping(map),
        skip_invalid=skip_invalid,
        pii=pii,
        description=description,
        display_name=base,
    )
    fd, tmp = tempfile.mkstemp(
        dir=storage.scratch_dir(ctx), prefix="upload-", suffix=formats.data_suffix(base)
    )
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        result = await asyncio.to_thread(service.add_version, ctx, spec=spec.model_copy(update={"path": tmp}))
    finally:
        os.unlink(tmp)
    return _status(response, result)


@mount(router, "datasets.import")
def import_version(
    ctx: CtxDep, name: str, body: DatasetImport, response: Response, project: str = "default"
) -> DatasetAddResult:
    """Add a version from a file on the server, inside LLMLOOP_DATA_IMPORT_ROOT (off unless configured)."""
    spec = validated(DatasetAdd, name=name, project=project, **body.model_dump())
    return _status(response, service.import_version(ctx, spec=spec))


@mount(router, "datasets.redact")
def redact_version(
    ctx: CtxDep, name: str, version: str, body: RedactRequest, response: Response, project: str | None = None
) -> DatasetAddResult:
    result = service.redact_version(ctx, ref=ref_of(name, version), project=project, kinds=body.kinds)
    return _status(response, result)


@mount(router, "datasets.dedup")
def dedup_version(
    ctx: CtxDep, name: str, version: str, body: DedupRequest, response: Response, project: str | None = None
) -> DatasetAddResult:
    return _status(
        response, service.dedup_version(ctx, ref=ref_of(name, version), project=project, near=body.near)
    )


@mount(router, "datasets.split")
def split_version(
    ctx: CtxDep, name: str, version: str, spec: SplitSpec, project: str | None = None
) -> SplitResult:
    return service.split_version(ctx, ref=ref_of(name, version), spec=spec, project=project)


@mount(router, "datasets.record_use")
def record_use(ctx: CtxDep, name: str, version: str, body: UseRequest, project: str | None = None) -> None:
    service.record_use(ctx, ref=ref_of(name, version), run_id=body.run_id, project=project)


@mount(router, "datasets.alias")
def set_alias(
    ctx: CtxDep, name: str, alias: str, body: AliasRequest, project: str | None = None
) -> DatasetVersion:
    return service.alias_version(ctx, ref=ref_of(name, body.version), alias=alias, project=project)


@mount(router, "datasets.diff")
def diff_versions(ctx: CtxDep, name: str, a: str, b: str, project: str | None = None) -> DatasetDiff:
    """Rows added/removed/changed from version ``a`` to ``b`` (numbers, aliases, or full NAME@V refs)."""
    return service.diff_versions(ctx, a=ref_of(name, a), b=ref_of(name, b), project=project)


@mount(router, "datasets.leakage")
def leakage(ctx: CtxDep, name: str, a: str, b: str, project: str | None = None) -> LeakagePair:
    return service.check_leakage(ctx, a=ref_of(name, a), b=ref_of(name, b), project=project)
