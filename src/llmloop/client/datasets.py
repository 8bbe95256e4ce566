"""``client.datasets``: the data service (add, read, derive versions), in-process or over ``/api/v1/datasets``.

A version in a REST path is a number, an alias, or ``latest``; the client takes references
(``NAME``, ``NAME@3``, ``NAME@prod``) and ``RemoteDatasets`` splits them into the path. New
versions travel as the file itself (the request body, streamed) or, for a folder, glob or URL,
as a server-side import that the server allows only inside ``LLMLOOP_DATA_IMPORT_ROOT``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from llmloop.client.routes import Route
from llmloop.services.data.kinds import Kind
from llmloop.services.data.schemas import (
    Dataset,
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
)

if TYPE_CHECKING:
    import pyarrow as pa

    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.services.data.ingest import Progress


class DatasetList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Dataset]


class DatasetImport(BaseModel):
    """A server-side file to add; ``path`` is relative to (or inside) the server's import root."""

    model_config = ConfigDict(extra="forbid")

    path: str
    kind: Kind | None = None
    format: Format | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    skip_invalid: bool = False
    pii: PiiPolicy = "warn"
    tokenizer: str | None = None
    description: str = ""


class RedactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[str] | None = None


class DedupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    near: bool = False


class AliasRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="A version number, an alias, or 'latest'.")


class UseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str


_V = "/datasets/{name}/versions/{version}"
ROUTES = [
    Route("datasets.list", "GET", "/datasets", "datasets:read", DatasetList),
    Route("datasets.show", "GET", "/datasets/{name}", "datasets:read", DatasetShow),
    Route("datasets.get_version", "GET", _V, "datasets:read", DatasetVersion),
    Route("datasets.profile", "GET", f"{_V}/profile", "datasets:read", Profile),
    Route("datasets.profile_png", "GET", f"{_V}/profile.png", "datasets:read"),
    Route("datasets.rows", "GET", f"{_V}/rows", "datasets:read", Rows),
    Route("datasets.download", "GET", f"{_V}/data", "datasets:read"),
    Route("datasets.upload", "POST", "/datasets/{name}/versions", "datasets:write", DatasetAddResult, status=201),
    Route("datasets.import", "POST", "/datasets/{name}/versions/import", "datasets:write", DatasetAddResult,
          DatasetImport, status=201),
    Route("datasets.redact", "POST", f"{_V}/redact", "datasets:write", DatasetAddResult, RedactRequest, status=201),
    Route("datasets.dedup", "POST", f"{_V}/dedup", "datasets:write", DatasetAddResult, DedupRequest, status=201),
    Route("datasets.split", "POST", f"{_V}/split", "datasets:write", SplitResult, SplitSpec, status=201),
    Route("datasets.record_use", "POST", f"{_V}/uses", "datasets:write", None, UseRequest, status=204),
    Route("datasets.alias", "PUT", "/datasets/{name}/aliases/{alias}", "datasets:write", DatasetVersion,
          AliasRequest),
    Route("datasets.diff", "GET", "/datasets/{name}/diff", "datasets:read", DatasetDiff),
    Route("datasets.leakage", "GET", "/datasets/{name}/leakage", "datasets:read", LeakagePair),
]  # fmt: skip


class Datasets(Protocol):
    """The verbs of ``client.datasets``; ``ref`` is always ``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS``."""

    def add_version(self, spec: DatasetAdd, progress: Progress | None = None) -> DatasetAddResult: ...
    def import_version(self, spec: DatasetAdd) -> DatasetAddResult: ...
    def list_datasets(self, project: str | None = None) -> list[Dataset]: ...
    def show_dataset(self, ref: str, project: str | None = None) -> DatasetShow: ...
    def get_version(self, ref: str, project: str | None = None) -> DatasetVersion: ...
    def get_profile(self, ref: str, project: str | None = None) -> Profile: ...
    def profile_png(self, ref: str, project: str | None = None, field: str | None = None) -> bytes: ...
    def get_rows(
        self,
        ref: str,
        project: str | None = None,
        split: str | None = None,
        offset: int = 0,
        limit: int = 50,
        q: str | None = None,
    ) -> Rows: ...
    def iter_batches(self, version: DatasetVersion, split: str | None = None) -> Iterator[pa.RecordBatch]: ...
    def redact_version(
        self, ref: str, kinds: list[str] | None = None, project: str | None = None
    ) -> DatasetAddResult: ...
    def dedup_version(self, ref: str, near: bool = False, project: str | None = None) -> DatasetAddResult: ...
    def split_version(self, ref: str, spec: SplitSpec, project: str | None = None) -> SplitResult: ...
    def record_use(self, ref: str, run_id: str, project: str | None = None) -> None: ...
    def alias_version(self, ref: str, alias: str, project: str | None = None) -> DatasetVersion: ...
    def diff_versions(self, a: str, b: str, project: str | None = None) -> DatasetDiff: ...
    def check_leakage(self, a: str, b: str, project: str | None = None) -> LeakagePair: ...


class LocalDatasets:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def add_version(self, spec: DatasetAdd, progress: Progress | None = None) -> DatasetAddResult:
        from llmloop.services.data import service

        return service.add_version(self.ctx, spec=spec, progress=progress)

    def import_version(self, spec: DatasetAdd) -> DatasetAddResult:
        from llmloop.services.data import service

        return service.import_version(self.ctx, spec=spec)

    def list_datasets(self, project: str | None = None) -> list[Dataset]:
        from llmloop.services.data import service

        return service.list_datasets(self.ctx, project=project)

    def show_dataset(self, ref: str, project: str | None = None) -> DatasetShow:
        from llmloop.services.data import service

        return service.show_dataset(self.ctx, ref=ref, project=project)

    def get_version(self, ref: str, project: str | None = None) -> DatasetVersion:
        from llmloop.services.data import service

        return service.get_version(self.ctx, ref=ref, project=project)

    def get_profile(self, ref: str, project: str | None = None) -> Profile:
        return self.get_version(ref, project).profile

    def profile_png(self, ref: str, project: str | None = None, field: str | None = None) -> bytes:
        from llmloop.services.data.charts import token_histograms

        return token_histograms(self.get_version(ref, project), field)

    def get_rows(
        self,
        ref: str,
        project: str | None = None,
        split: str | None = None,
        offset: int = 0,
        limit: int = 50,
        q: str | None = None,
    ) -> Rows:
        """A page of rows, or with ``q`` of the rows that match it (``services/data/rows.py`` says which
        match and how far one call scans); ``next_offset`` is where the next page begins."""
        from llmloop.services.data import service

        return service.get_rows(
            self.ctx, ref=ref, project=project, split=split, offset=offset, limit=limit, q=q
        )

    def iter_batches(self, version: DatasetVersion, split: str | None = None) -> Iterator[pa.RecordBatch]:
        from llmloop.services.data import service

        return service.iter_batches(self.ctx, version, split=split)

    def redact_version(
        self, ref: str, kinds: list[str] | None = None, project: str | None = None
    ) -> DatasetAddResult:
        from llmloop.services.data import service

        return service.redact_version(self.ctx, ref=ref, project=project, kinds=kinds)

    def dedup_version(self, ref: str, near: bool = False, project: str | None = None) -> DatasetAddResult:
        from llmloop.services.data import service

        return service.dedup_version(self.ctx, ref=ref, project=project, near=near)

    def split_version(self, ref: str, spec: SplitSpec, project: str | None = None) -> SplitResult:
        from llmloop.services.data import service

        return service.split_version(self.ctx, ref=ref, spec=spec, project=project)

    def record_use(self, ref: str, run_id: str, project: str | None = None) -> None:
        from llmloop.services.data import service

        service.record_use(self.ctx, ref=ref, run_id=run_id, project=project)

    def alias_version(self, ref: str, alias: str, project: str | None = None) -> DatasetVersion:
        from llmloop.services.data import service

        return service.alias_version(self.ctx, ref=ref, alias=alias, project=project)

    def diff_versions(self, a: str, b: str, project: str | None = None) -> DatasetDiff:
        from llmloop.services.data import service

        return service.diff_versions(self.ctx, a=a, b=b, project=project)

    def check_leakage(self, a: str, b: str, project: str | None = None) -> LeakagePair:
        from llmloop.services.data import service

        return service.check_leakage(self.ctx, a=a, b=b, project=project)


def split_ref(ref: str) -> tuple[str, str]:
    """``NAME@V`` → (``NAME``, ``V``); a bare ``NAME`` → (``NAME``, ``latest``), as REST paths spell it."""
    name, _, version = ref.partition("@")
    return name, version or "latest"


class RemoteDatasets:
    def __init__(self, http: Http) -> None:
        self.http = http

    def _version_call(self, route: str, ref: str, project: str | None, **kwargs: Any) -> Any:
        name, version = split_ref(ref)
        return self.http.call(
            route, path={"name": name, "version": version}, query={"project": project}, **kwargs
        )

    def add_version(self, spec: DatasetAdd, progress: Progress | None = None) -> DatasetAddResult:
        """Upload a local file; anything else (folder, glob, URL) the server must read itself (an import)."""
        path = Path(spec.path)
        if not path.is_file():
            return self.import_version(spec)
        query: dict[str, Any] = {
            "filename": spec.display_name or path.name,
            "project": spec.project,
            "kind": spec.kind,
            "format": spec.format,
            "map": [f"{k}={v}" for k, v in spec.mapping.items()],
            "skip_invalid": spec.skip_invalid,
            "pii": spec.pii,
            "description": spec.description,
        }
        with path.open("rb") as fh:
            result: DatasetAddResult = self.http.call(
                "datasets.upload", path={"name": spec.name}, query=query, content=fh
            )
        return result

    def import_version(self, spec: DatasetAdd) -> DatasetAddResult:
        body = DatasetImport.model_validate(spec.model_dump(include=set(DatasetImport.model_fields)))
        result: DatasetAddResult = self.http.call(
            "datasets.import", path={"name": spec.name}, query={"project": spec.project}, body=body
        )
        return result

    def list_datasets(self, project: str | None = None) -> list[Dataset]:
        page: DatasetList = self.http.call("datasets.list", query={"project": project})
        return page.items

    def show_dataset(self, ref: str, project: str | None = None) -> DatasetShow:
        name, version = split_ref(ref)
        show: DatasetShow = self.http.call(
            "datasets.show", path={"name": name}, query={"project": project, "version": version}
        )
        return show

    def get_version(self, ref: str, project: str | None = None) -> DatasetVersion:
        v: DatasetVersion = self._version_call("datasets.get_version", ref, project)
        return v

    def get_profile(self, ref: str, project: str | None = None) -> Profile:
        profile: Profile = self._version_call("datasets.profile", ref, project)
        return profile

    def profile_png(self, ref: str, project: str | None = None, field: str | None = None) -> bytes:
        name, version = split_ref(ref)
        with self.http.stream(
            "datasets.profile_png",
            path={"name": name, "version": version},
            query={"project": project, "field": field},
        ) as resp:
            return resp.read()

    def get_rows(
        self,
        ref: str,
        project: str | None = None,
        split: str | None = None,
        offset: int = 0,
        limit: int = 50,
        q: str | None = None,
    ) -> Rows:
        query = {"project": project, "split": split, "offset": offset, "limit": limit, "q": q}
        name, version = split_ref(ref)
        rows: Rows = self.http.call("datasets.rows", path={"name": name, "version": version}, query=query)
        return rows

    def iter_batches(self, version: DatasetVersion, split: str | None = None) -> Iterator[pa.RecordBatch]:
        """Download the version's Parquet file once, then read it a batch at a time (one split when asked)."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        from llmloop.errors import NotFound

        if split is not None and split not in (version.splits or {}):
            raise NotFound(
                f"{version.ref} has no split {split!r}; it has {sorted(version.splits or {}) or 'none'}",
                details={"ref": version.ref, "split": split},
            )
        with tempfile.TemporaryDirectory(prefix="llmloop-dataset-") as tmp:
            dest = self.http.download(
                "datasets.download",
                Path(tmp) / "data.parquet",
                path={"name": version.name, "version": version.version},
                query={"project": version.project},
            )
            pf = pq.ParquetFile(dest)
            try:
                for batch in pf.iter_batches():
                    if split is not None:
                        batch = batch.filter(pc.equal(batch.column("split"), split))
                    if batch.num_rows:
                        yield batch
            finally:
                pf.close()

    def redact_version(
        self, ref: str, kinds: list[str] | None = None, project: str | None = None
    ) -> DatasetAddResult:
        result: DatasetAddResult = self._version_call(
            "datasets.redact", ref, project, body=RedactRequest(kinds=kinds)
        )
        return result

    def dedup_version(self, ref: str, near: bool = False, project: str | None = None) -> DatasetAddResult:
        result: DatasetAddResult = self._version_call(
            "datasets.dedup", ref, project, body=DedupRequest(near=near)
        )
        return result

    def split_version(self, ref: str, spec: SplitSpec, project: str | None = None) -> SplitResult:
        result: SplitResult = self._version_call("datasets.split", ref, project, body=spec)
        return result

    def record_use(self, ref: str, run_id: str, project: str | None = None) -> None:
        self._version_call("datasets.record_use", ref, project, body=UseRequest(run_id=run_id))

    def alias_version(self, ref: str, alias: str, project: str | None = None) -> DatasetVersion:
        name, version = split_ref(ref)
        v: DatasetVersion = self.http.call(
            "datasets.alias",
            path={"name": name, "alias": alias},
            query={"project": project},
            body=AliasRequest(version=version),
        )
        return v

    def _pair_query(self, a: str, b: str, project: str | None) -> tuple[str, dict[str, Any]]:
        """The path name and ``a``/``b`` query of a comparison, as the server reads them.

        The server reads ``a`` and ``b`` as versions of the path's dataset unless they hold an ``@``
        (a full reference). A bare name of *another* dataset would read as an alias, so it is first
        resolved to the full reference of its latest version.
        """
        name = split_ref(a)[0]

        def spelled(ref: str) -> str:
            other, _, version = ref.partition("@")
            if other == name:
                return version or "latest"
            return ref if version else self.get_version(ref, project).ref

        return name, {"a": spelled(a), "b": spelled(b), "project": project}

    def diff_versions(self, a: str, b: str, project: str | None = None) -> DatasetDiff:
        name, query = self._pair_query(a, b, project)
        diff: DatasetDiff = self.http.call("datasets.diff", path={"name": name}, query=query)
        return diff

    def check_leakage(self, a: str, b: str, project: str | None = None) -> LeakagePair:
        name, query = self._pair_query(a, b, project)
        pair: LeakagePair = self.http.call("datasets.leakage", path={"name": name}, query=query)
        return pair
