"""``ll.datasets``: add, read and derive dataset versions from Python, locally or against a server.

    import llmloop as ll
    v = ll.datasets.add("travel", "data/travel.jsonl")       # -> travel@1 (or the existing version)
    df = ll.datasets.get("travel@1").to_pandas()
    for row in ll.datasets.get("travel@prod").iter_rows(split="train"): ...

Every call goes through ``llmloop.client.get_client().datasets``: with ``LLMLOOP_SERVER_URL`` set
that is ``/api/v1/datasets`` (files are uploaded, data downloaded as Parquet), otherwise the data
service on the embedded store. Reading a version inside an active run records a lineage edge
version → run.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from llmloop.client import get_client
from llmloop.config import get_settings
from llmloop.errors import InvalidInput
from llmloop.services.data.kinds import Kind, arrow_schema
from llmloop.services.data.schemas import (
    Dataset,
    DatasetAdd,
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

if TYPE_CHECKING:
    from llmloop.client.datasets import Datasets as DatasetsApi
    from llmloop.services.data.ingest import Progress


def _api() -> DatasetsApi:
    """``client.datasets`` of the client the current settings name (looked up per call, never cached here)."""
    return get_client().datasets


class DatasetHandle:
    """One dataset version, readable as Arrow, pandas, Hugging Face ``datasets`` or plain rows.

    ``metadata`` (every field outside the row kind) is a dict in ``iter_rows`` and ``to_pandas``,
    and JSON text in ``to_arrow`` / ``to_hf``, whose columns need one type.
    """

    def __init__(self, api: DatasetsApi, info: DatasetVersion, *, created: bool | None = None) -> None:
        self._api = api
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
        return self._api.iter_batches(self.info, split)

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
        progress: Progress | None = None,
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
        api = _api()
        result = api.add_version(spec, progress)
        return DatasetHandle(api, result.version, created=result.created)

    def get(self, ref: str, *, project: str | None = None, run: Any = None) -> DatasetHandle:
        """``NAME``, ``NAME@3`` or ``NAME@alias``. Inside an active run (or with ``run=``) records the use."""
        from llmloop.sdk.run import active_run

        api = _api()
        info = api.get_version(ref, project)
        current = run if run is not None else active_run()
        if current is not None:
            run_id = current if isinstance(current, str) else current.id
            api.record_use(info.ref, run_id, info.project)
        return DatasetHandle(api, info)

    def list(self, project: str | None = None) -> builtins.list[Dataset]:
        return _api().list_datasets(project)

    def show(self, ref: str, project: str | None = None) -> DatasetShow:
        return _api().show_dataset(ref, project)

    def diff(self, a: str, b: str, project: str | None = None) -> DatasetDiff:
        return _api().diff_versions(a, b, project)

    def leakage(self, a: str, b: str, project: str | None = None) -> LeakagePair:
        return _api().check_leakage(a, b, project)

    def redact(
        self, ref: str, *, kinds: builtins.list[str] | None = None, project: str | None = None
    ) -> DatasetHandle:
        api = _api()
        result = api.redact_version(ref, kinds, project)
        return DatasetHandle(api, result.version, created=result.created)

    def dedup(self, ref: str, *, near: bool = False, project: str | None = None) -> DatasetHandle:
        api = _api()
        result = api.dedup_version(ref, near, project)
        return DatasetHandle(api, result.version, created=result.created)

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
        return _api().split_version(ref, spec, project)

    def alias(self, ref: str, alias: str, *, project: str | None = None) -> DatasetVersion:
        return _api().alias_version(ref, alias, project)

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
