"""``ll.datasets``: add, read and derive dataset versions from Python, locally or against a server.

    import llmloop as ll
    v = ll.datasets.add("travel", "data/travel.jsonl")       # -> travel@1 (or the existing version)
    df = ll.datasets.get("travel@1").to_pandas()
    for row in ll.datasets.get("travel@prod").iter_rows(split="train"): ...

With ``LLMLOOP_SERVER_URL`` set the same calls go to ``/api/v1/datasets`` (files are uploaded, data
downloaded as Parquet); otherwise they call the data service on the embedded store. Reading a
version inside an active run records a lineage edge version → run.
"""

from __future__ import annotations

import builtins
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from llmloop.config import get_settings
from llmloop.errors import InvalidInput
from llmloop.services.data.kinds import Kind, arrow_schema
from llmloop.services.data.schemas import (
    Dataset,
    DatasetAdd,
    DatasetAddResult,
    DatasetDiff,
    DatasetShow,
    DatasetVersion,
    ExportFormat,
    LeakagePair,
    PiiPolicy,
    Profile,
    SplitResult,
    SplitSpec,
    validated,
)

ProgressFn = Callable[[int, int | None], None]


class Backend(Protocol):
    """What ``ll.datasets`` needs from a store; ``_Local`` and ``_Remote`` provide it."""

    def add(self, spec: DatasetAdd, progress: ProgressFn | None) -> DatasetAddResult: ...
    def call(self, op: str, **kwargs: Any) -> Any: ...
    def batches(self, version: DatasetVersion, split: str | None) -> Iterator[pa.RecordBatch]: ...


class _Local:
    def __init__(self) -> None:
        from llmloop.context import local_context

        self.ctx = local_context()

    def add(self, spec: DatasetAdd, progress: ProgressFn | None) -> DatasetAddResult:
        from llmloop.services.data import service

        return service.add_version(self.ctx, spec=spec, progress=progress)

    def call(self, op: str, **kwargs: Any) -> Any:
        from llmloop.services.data import service

        return getattr(service, op)(self.ctx, **kwargs)

    def batches(self, version: DatasetVersion, split: str | None) -> Iterator[pa.RecordBatch]:
        from llmloop.services.data import service

        return service.iter_batches(self.ctx, version, split=split)


def _split_ref(ref: str) -> tuple[str, str]:
    name, _, version = ref.partition("@")
    return name, version or "latest"


class _Remote:
    def __init__(self) -> None:
        from llmloop.sdk.remote import RemoteClient

        self.client = RemoteClient(get_settings())

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client._call(method, f"/datasets{path}", **kwargs)

    def add(self, spec: DatasetAdd, progress: ProgressFn | None) -> DatasetAddResult:
        path = Path(spec.path)
        params: dict[str, Any] = {
            "project": spec.project,
            "skip_invalid": spec.skip_invalid,
            "pii": spec.pii,
            "description": spec.description,
        }
        if path.is_file():
            params.update(
                filename=spec.display_name or path.name, map=[f"{k}={v}" for k, v in spec.mapping.items()]
            )
            params.update({k: v for k, v in {"kind": spec.kind, "format": spec.format}.items() if v})
            with path.open("rb") as fh:
                data = self._call("POST", f"/{spec.name}/versions", params=params, content=fh)
        else:  # a folder, glob or URL: the server reads it, if it allows server-side import
            body = spec.model_dump(
                include={
                    "path",
                    "kind",
                    "format",
                    "mapping",
                    "skip_invalid",
                    "pii",
                    "tokenizer",
                    "description",
                }
            )
            data = self._call(
                "POST", f"/{spec.name}/versions/import", params={"project": spec.project}, json=body
            )
        return DatasetAddResult.model_validate(data)

    def call(self, op: str, **kw: Any) -> Any:
        project = {"project": kw["project"]} if kw.get("project") else {}
        if op == "get_version":
            name, v = _split_ref(kw["ref"])
            return DatasetVersion.model_validate(self._call("GET", f"/{name}/versions/{v}", params=project))
        if op == "show_dataset":
            name, v = _split_ref(kw["ref"])
            return DatasetShow.model_validate(self._call("GET", f"/{name}", params={**project, "version": v}))
        if op == "list_datasets":
            return [Dataset.model_validate(d) for d in self._call("GET", "", params=project)["items"]]
        if op in ("diff_versions", "check_leakage"):
            name, _ = _split_ref(kw["a"])
            route, model = ("diff", DatasetDiff) if op == "diff_versions" else ("leakage", LeakagePair)
            return model.model_validate(
                self._call("GET", f"/{name}/{route}", params={**project, "a": kw["a"], "b": kw["b"]})
            )
        if op in ("redact_version", "dedup_version", "split_version"):
            name, v = _split_ref(kw["ref"])
            route = op.removesuffix("_version")
            body = (
                kw["spec"].model_dump(mode="json")
                if op == "split_version"
                else (
                    {"kinds": kw.get("kinds")} if op == "redact_version" else {"near": kw.get("near", False)}
                )
            )
            data = self._call("POST", f"/{name}/versions/{v}/{route}", params=project, json=body)
            return (SplitResult if op == "split_version" else DatasetAddResult).model_validate(data)
        if op == "alias_version":
            name, v = _split_ref(kw["ref"])
            data = self._call("PUT", f"/{name}/aliases/{kw['alias']}", params=project, json={"version": v})
            return DatasetVersion.model_validate(data)
        if op == "record_use":
            name, v = _split_ref(kw["ref"])
            return self._call(
                "POST", f"/{name}/versions/{v}/uses", params=project, json={"run_id": kw["run_id"]}
            )
        raise NotImplementedError(op)

    def batches(self, version: DatasetVersion, split: str | None) -> Iterator[pa.RecordBatch]:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        fd, tmp = tempfile.mkstemp(prefix="llmloop-dataset-", suffix=".parquet")
        try:
            with os.fdopen(fd, "wb") as out:
                url = f"/api/v1/datasets/{version.name}/versions/{version.version}/data"
                with self.client.http.stream("GET", url, params={"project": version.project}) as r:
                    if r.status_code >= 400:
                        from llmloop.errors import from_envelope

                        r.read()
                        raise from_envelope(r.json())
                    for chunk in r.iter_bytes():
                        out.write(chunk)
            pf = pq.ParquetFile(tmp)
            try:
                for batch in pf.iter_batches():
                    if split is not None:
                        batch = batch.filter(pc.equal(batch.column("split"), split))
                    if batch.num_rows:
                        yield batch
            finally:
                pf.close()
        finally:
            os.unlink(tmp)


def _backend() -> Backend:
    return _Remote() if get_settings().server_url else _Local()


class DatasetHandle:
    """One dataset version, readable as Arrow, pandas, Hugging Face ``datasets`` or plain rows.

    ``metadata`` (every field outside the row kind) is a dict in ``iter_rows`` and ``to_pandas``,
    and JSON text in ``to_arrow`` / ``to_hf``, whose columns need one type.
    """

    def __init__(self, backend: Backend, info: DatasetVersion, *, created: bool | None = None) -> None:
        self._backend = backend
        self.info = info
        self.created = created

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def project(self) -> str:
        return self.info.project

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def ref(self) -> str:
        return self.info.ref

    @property
    def rows(self) -> int:
        return self.info.rows

    @property
    def splits(self) -> dict[str, int] | None:
        return self.info.splits

    @property
    def kind(self) -> Kind:
        return self.info.kind

    @property
    def profile(self) -> Profile:
        return self.info.profile

    def __repr__(self) -> str:
        return f"<DatasetHandle {self.project}/{self.ref} {self.kind} rows={self.rows}>"

    def _check_split(self, split: str | None) -> None:
        if split is not None and split not in (self.splits or {}):
            raise InvalidInput(
                f"{self.ref} has no split {split!r}; it has {sorted(self.splits or {}) or 'none'}"
            )

    def iter_batches(self, split: str | None = None) -> Iterator[pa.RecordBatch]:
        self._check_split(split)
        return self._backend.batches(self.info, split)

    def iter_rows(self, split: str | None = None) -> Iterator[dict[str, Any]]:
        from llmloop.services.data.transforms import export_records

        for batch in self.iter_batches(split):
            yield from export_records(batch)

    def to_arrow(self, split: str | None = None) -> pa.Table:
        schema = arrow_schema(self.kind, with_split=bool(self.splits))
        return pa.Table.from_batches(list(self.iter_batches(split)), schema=schema)

    def to_pandas(self, split: str | None = None) -> Any:
        df = self.to_arrow(split).to_pandas()
        df["metadata"] = [json.loads(m) if m is not None else None for m in df["metadata"]]
        return df

    def to_hf(self, split: str | None = None) -> Any:
        """A ``datasets.Dataset``; a ``DatasetDict`` by split when the version is split and no split is asked."""
        from llmloop.services.data.export import to_hf

        table = self.to_arrow(split)
        if split is not None:
            table = table.drop_columns(["split"])
        return to_hf(table)

    def export(self, dest: str | Path, format: ExportFormat = "jsonl", split: str | None = None) -> Path:
        from llmloop.services.data.export import write_export
        from llmloop.services.data.transforms import without_split

        batches = self.iter_batches(split)
        if split is not None:
            batches = (without_split(b, self.kind) for b in batches)
        schema = arrow_schema(self.kind, with_split=bool(self.splits) and split is None)
        return write_export(batches, schema, dest, format)


class Datasets:
    """The ``ll.datasets`` namespace: the same verbs as ``llmloop data``."""

    def add(
        self,
        name: str,
        path: str | Path,
        *,
        schema: Kind | None = None,
        project: str | None = None,
        format: str | None = None,
        map: dict[str, str] | None = None,
        skip_invalid: bool = False,
        pii: PiiPolicy = "warn",
        tokenizer: str | None = None,
        description: str = "",
        progress: ProgressFn | None = None,
    ) -> DatasetHandle:
        """Add ``path`` (file, folder, glob or fsspec URL) as a version of ``name``; ``.created`` says if it is new."""
        spec = validated(
            DatasetAdd,
            name=name,
            path=str(path),
            project=project or get_settings().default_project,
            kind=schema,
            format=format,
            mapping=map or {},
            skip_invalid=skip_invalid,
            pii=pii,
            tokenizer=tokenizer,
            description=description,
        )
        backend = _backend()
        result = backend.add(spec, progress)
        return DatasetHandle(backend, result.version, created=result.created)

    def get(self, ref: str, *, project: str | None = None, run: Any = None) -> DatasetHandle:
        """``NAME``, ``NAME@3`` or ``NAME@alias``. Inside an active run (or with ``run=``) records the use."""
        from llmloop.sdk.run import active_run

        backend = _backend()
        info = backend.call("get_version", ref=ref, project=project)
        current = run if run is not None else active_run()
        if current is not None:
            run_id = current if isinstance(current, str) else current.id
            backend.call("record_use", ref=info.ref, run_id=run_id, project=info.project)
        return DatasetHandle(backend, info)

    def list(self, project: str | None = None) -> list[Dataset]:
        return list(_backend().call("list_datasets", project=project))

    def show(self, ref: str, project: str | None = None) -> DatasetShow:
        result: DatasetShow = _backend().call("show_dataset", ref=ref, project=project)
        return result

    def diff(self, a: str, b: str, project: str | None = None) -> DatasetDiff:
        result: DatasetDiff = _backend().call("diff_versions", a=a, b=b, project=project)
        return result

    def leakage(self, a: str, b: str, project: str | None = None) -> LeakagePair:
        result: LeakagePair = _backend().call("check_leakage", a=a, b=b, project=project)
        return result

    def redact(
        self, ref: str, *, kinds: builtins.list[str] | None = None, project: str | None = None
    ) -> DatasetHandle:
        backend = _backend()
        result = backend.call("redact_version", ref=ref, project=project, kinds=kinds)
        return DatasetHandle(backend, result.version, created=result.created)

    def dedup(self, ref: str, *, near: bool = False, project: str | None = None) -> DatasetHandle:
        backend = _backend()
        result = backend.call("dedup_version", ref=ref, project=project, near=near)
        return DatasetHandle(backend, result.version, created=result.created)

    def split(
        self,
        ref: str,
        *,
        fractions: dict[str, float] | None = None,
        seed: int = 0,
        stratify: str | None = None,
        into: str = "column",
        project: str | None = None,
    ) -> SplitResult:
        values: dict[str, Any] = {"seed": seed, "stratify": stratify, "into": into}
        if fractions is not None:
            values["fractions"] = fractions
        spec = validated(SplitSpec, **values)
        result: SplitResult = _backend().call("split_version", ref=ref, spec=spec, project=project)
        return result

    def alias(self, ref: str, alias: str, *, project: str | None = None) -> DatasetVersion:
        result: DatasetVersion = _backend().call("alias_version", ref=ref, alias=alias, project=project)
        return result

    def export(
        self,
        ref: str,
        dest: str | Path,
        *,
        format: ExportFormat = "jsonl",
        split: str | None = None,
        project: str | None = None,
    ) -> Path:
        return self.get(ref, project=project).export(dest, format=format, split=split)


datasets = Datasets()
