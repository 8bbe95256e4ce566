"""Streaming ingest: source files → canonical Arrow batches → Parquet (data + row index), hashed and profiled.

Two readers produce the same canonical batches:

- the **fast path** (JSONL whose records hold exactly the kind's fields): Arrow's C++ JSON reader with
  the canonical schema, checked column-wise; anything it cannot vouch for (a missing field, a null, an
  unknown role, an extra field, a blank or over-long line) makes it give up, and
- the **record path** (every format, ``--skip-invalid``, extra fields into ``metadata``): one Python
  record at a time through ``kinds.RowBuilder``, which names the file, line and field of any error.

The fast path gives up rather than guesses, and the record path then reads the file again from the
start, so both always agree on content hashes and on what is an error. Output goes to files in a
work folder the caller owns; nothing here touches the store, so a failed ingest leaves no trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from llmloop.errors import InvalidInput
from llmloop.services.data import formats
from llmloop.services.data.hashing import ContentHasher, RowHashes, list_parts, row_hashes
from llmloop.services.data.kinds import (
    FIELDS,
    MESSAGE,
    MESSAGES,
    ROLES,
    STRING_ROLE,
    Kind,
    RowBuilder,
    RowError,
    apply_mapping,
    arrow_schema,
    detect_kind,
    string_messages,
)
from llmloop.services.data.profile import Profiler
from llmloop.services.data.schemas import DatasetAdd, Profile
from llmloop.services.data.settings import data_settings

Progress = Callable[[int, int | None], None]
INDEX_SCHEMA = pa.schema(
    [
        pa.field("row_hash", pa.binary(16), nullable=False),
        pa.field("key_hash", pa.uint64(), nullable=False),
        pa.field("near_hash", pa.uint64(), nullable=False),
    ]
)
INGEST_VERSION = 2  # bump when canonical rows change: it retires every stored source fingerprint
FAST_CHUNK = 8 << 20  # bytes of whole lines the Arrow reader parses at a time
COMPRESSION = "snappy"  # twice as fast as zstd to write; storage is cheaper than ingest time
_ROLES = pa.array(sorted(ROLES), pa.string())


@dataclass
class IngestOptions:
    kind: Kind | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    skip_invalid: bool = False
    max_line_bytes: int = 64 << 20
    batch_rows: int = 8192
    row_group_rows: int = 131072
    tokenizer: str | None = None
    ngram_rows: int = 2000


@dataclass
class IngestResult:
    kind: Kind
    rows: int
    invalid_rows: int
    content_hash: str
    data_path: Path
    index_path: Path
    profile: Profile
    with_split: bool
    skipped: list[str] = field(default_factory=list)
    fast_path: bool = False


class FastPathRejected(Exception):
    """The Arrow reader cannot vouch for this file; the record path decides."""


class _Tracker:
    def __init__(self, progress: Progress | None, total: int | None) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)

    def reset(self) -> None:
        self.done = 0
        if self.progress is not None:
            self.progress(0, self.total)


def index_batch(hashes: RowHashes) -> pa.RecordBatch:
    n = len(hashes.key)
    row = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(hashes.row.tobytes())])
    return pa.RecordBatch.from_arrays([row, pa.array(hashes.key), pa.array(hashes.near)], schema=INDEX_SCHEMA)


class CanonicalSink:
    """Takes canonical batches; writes data and index Parquet in row groups, hashing and profiling each batch."""

    def __init__(self, kind: Kind, schema: pa.Schema, workdir: Path, opts: IngestOptions) -> None:
        self.kind = kind
        self.schema = schema
        self.data_path = workdir / "data.parquet"
        self.index_path = workdir / "index.parquet"
        self._opts = opts
        self._data = pq.ParquetWriter(self.data_path, schema, compression=COMPRESSION)
        self._index = pq.ParquetWriter(self.index_path, INDEX_SCHEMA, compression=COMPRESSION)
        self._hasher = ContentHasher(kind, schema.names)
        self._profiler = Profiler(kind, tokenizer=opts.tokenizer, ngram_rows=opts.ngram_rows)
        self._pending: list[pa.RecordBatch] = []
        self._pending_index: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        hashes = row_hashes(batch, self.kind)
        self._hasher.update(hashes, batch)
        self._profiler.update(batch, hashes)
        self._pending.append(batch)
        self._pending_index.append(index_batch(hashes))
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        if self._pending_rows >= self._opts.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = self._pending_rows
        self._data.write_table(pa.Table.from_batches(self._pending, self.schema), row_group_size=rows)
        self._index.write_table(pa.Table.from_batches(self._pending_index, INDEX_SCHEMA), row_group_size=rows)
        self._pending, self._pending_index, self._pending_rows = [], [], 0

    def close(self, *, invalid_rows: int, skipped: list[str], fast_path: bool = False) -> IngestResult:
        self._flush()
        self._data.close()
        self._index.close()
        return IngestResult(
            kind=self.kind,
            rows=self.rows,
            invalid_rows=invalid_rows,
            content_hash=self._hasher.hexdigest(),
            data_path=self.data_path,
            index_path=self.index_path,
            profile=self._profiler.result(invalid_rows=invalid_rows),
            with_split="split" in self.schema.names,
            skipped=skipped,
            fast_path=fast_path,
        )

    def abort(self) -> None:
        for writer in (self._data, self._index):
            with contextlib.suppress(Exception):  # closing a writer whose output we throw away
                writer.close()
        for path in (self.data_path, self.index_path):
            path.unlink(missing_ok=True)


def ingest_batches(
    batches: Iterable[pa.RecordBatch], kind: Kind, schema: pa.Schema, workdir: Path, opts: IngestOptions
) -> IngestResult:
    """Write already-canonical batches (a derived version: redacted, split, deduplicated)."""
    sink = CanonicalSink(kind, schema, workdir, opts)
    try:
        for batch in batches:
            sink.write(batch)
        return sink.close(invalid_rows=0, skipped=[])
    except BaseException:
        sink.abort()
        raise


def ingest(
    source: formats.Source, opts: IngestOptions, workdir: Path, progress: Progress | None = None
) -> IngestResult:
    tracker = _Tracker(progress, source.total_bytes)
    if source.format == "jsonl" and not opts.skip_invalid:
        kind = _fast_path_kind(source, opts)
        if kind is not None:
            try:
                return _ingest_fast(source, opts, kind, workdir, tracker)
            except FastPathRejected:
                tracker.reset()
    return _ingest_records(source, opts, workdir, tracker)


def _fast_path_kind(source: formats.Source, opts: IngestOptions) -> Kind | None:
    """The kind, when the first record holds exactly that kind's fields (so the Arrow reader can take it)."""
    with formats.open_binary(source.files[0]) as fh:
        for _, rec, err in formats.iter_jsonl(fh, opts.max_line_bytes):
            if err is not None:
                return None
            try:
                rec = apply_mapping(rec, opts.mapping)
            except RowError:
                return None
            kind = opts.kind or detect_kind(rec)
            if kind is None or set(rec) != set(FIELDS[kind]):
                return None
            if kind == "preference" and not all(isinstance(rec[f], str) for f in FIELDS[kind]):
                return None  # conversational pairs: only the record path drops a prompt the answers repeat
            return kind
    return None


def _fast_batch(batch: pa.RecordBatch, kind: Kind, names: list[str], schema: pa.Schema) -> pa.RecordBatch:
    cols: list[pa.Array] = []
    for name, canonical in zip(names, FIELDS[kind], strict=True):
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if col.null_count:
            raise FastPathRejected(f"null or missing {name}")
        try:
            col.validate(full=True)  # the JSON reader does not check UTF-8 inside strings
        except pa.ArrowInvalid as e:
            raise FastPathRejected(f"invalid {name}: {e}") from e
        if pa.types.is_string(col.type) and pa.types.is_list(schema.field(canonical).type):
            if len(col) and pc.any(pc.starts_with(pc.utf8_ltrim_whitespace(col), "[")).as_py():
                raise FastPathRejected(f"a {name} that may be a conversation written as JSON text")
            col = string_messages(col, STRING_ROLE[canonical])  # a preference pair in TRL's standard form
        elif pa.types.is_list(col.type):
            lengths = pc.list_value_length(col)
            if len(col) and pc.min(lengths).as_py() < 1:
                raise FastPathRejected("empty messages")
            offsets, flat = list_parts(col)
            if flat.null_count:
                raise FastPathRejected("null message")
            roles, contents = flat.flatten()
            if (
                roles.null_count
                or contents.null_count
                or not pc.all(pc.is_in(roles, value_set=_ROLES)).as_py()
            ):
                raise FastPathRejected("bad message")
            values = pa.StructArray.from_arrays([roles, contents], fields=list(MESSAGE))
            col = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=MESSAGES)
        cols.append(col)
    cols.append(pa.nulls(batch.num_rows, pa.string()))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def _line_chunks(raw: formats.CountingReader, size: int, max_line: int) -> Iterator[bytes]:
    """Whole lines, about ``size`` bytes at a time: the Arrow reader parses one chunk, never the file.

    (Arrow's own streaming reader reads ahead without bound, so a large file would sit in memory.)
    """
    carry = b""
    while data := raw.read(size):
        buf = carry + data if carry else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
        else:
            yield buf[: cut + 1]
            carry = buf[cut + 1 :]
        if len(carry) > max_line:
            raise FastPathRejected("a line longer than the limit")
    if carry:
        yield carry


def _ingest_fast(
    source: formats.Source, opts: IngestOptions, kind: Kind, workdir: Path, tracker: _Tracker
) -> IngestResult:
    import pyarrow.json as pj

    reverse = {dst: src for src, dst in opts.mapping.items()}
    names = [reverse.get(f, f) for f in FIELDS[kind]]
    schema = arrow_schema(kind)
    read_as = {"preference": pa.string()}.get(kind)  # its fast path reads the standard (string) form
    explicit = pa.schema(
        [pa.field(n, read_as or schema.field(f).type) for n, f in zip(names, FIELDS[kind], strict=True)]
    )
    parse_options = pj.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="error")
    sink = CanonicalSink(kind, schema, workdir, opts)
    try:
        for f in source.files:
            with formats.open_binary(f, tracker) as raw:
                for chunk in _line_chunks(raw, FAST_CHUNK, opts.max_line_bytes):
                    read_options = pj.ReadOptions(use_threads=False, block_size=len(chunk) + 1)
                    try:
                        table = pj.read_json(
                            pa.BufferReader(chunk), read_options=read_options, parse_options=parse_options
                        )
                    except (pa.ArrowException, UnicodeDecodeError) as e:  # what the reader says of bad input
                        raise FastPathRejected(str(e)) from e
                    lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
                    if table.num_rows != lines:
                        raise FastPathRejected("blank lines, or several objects on one line")
                    for batch in table.to_batches():
                        sink.write(_fast_batch(batch, kind, names, schema))
        if sink.rows == 0:
            raise FastPathRejected("no rows")
        return sink.close(invalid_rows=0, skipped=[], fast_path=True)
    except BaseException:
        sink.abort()
        raise


def _records(
    source: formats.Source, opts: IngestOptions, tracker: _Tracker
) -> Iterator[tuple[str, str, int, Any, str | None]]:
    """(file, unit, number, record, error) over every file of the source."""
    if source.format == "hf":
        for line, rec, err in formats.iter_hf(source.url, source.display):
            yield source.display, "row", line, rec, err
        return
    for f in source.files:
        if source.format == "parquet":  # Parquet needs random access: the file itself, not a stream
            with f.fs.open(f.path, "rb") as fh:
                for line, rec, err in formats.iter_parquet(fh, f.display, opts.batch_rows):
                    yield f.display, "row", line, rec, err
            tracker(f.size or 0)
            continue
        with formats.open_binary(f, tracker) as fh:
            if source.format == "jsonl":
                items = formats.iter_jsonl(fh, opts.max_line_bytes)
            elif source.format == "json":
                items = formats.iter_json_array(fh, opts.max_line_bytes, f.display)
            else:
                items = formats.iter_csv(fh, opts.max_line_bytes, f.display, f.delimiter)
            for line, rec, err in items:
                yield f.display, "line", line, rec, err


def _ingest_records(
    source: formats.Source, opts: IngestOptions, workdir: Path, tracker: _Tracker
) -> IngestResult:
    builder: RowBuilder | None = None
    sink: CanonicalSink | None = None
    invalid = 0
    skipped: list[str] = []
    try:
        for file, unit, num, rec, err in _records(source, opts, tracker):
            field_name = None
            if err is None:
                try:
                    rec = apply_mapping(rec, opts.mapping)
                    detected = detect_kind(rec)
                    if builder is None:
                        kind = opts.kind or detected
                        if kind is None:
                            raise RowError(
                                f"cannot tell the schema from fields {sorted(rec)[:8]}; expected text, "
                                "prompt+completion, messages, prompt+chosen+rejected or input+reference "
                                "(use --schema and --map SOURCE=TARGET)"
                            )
                        builder = RowBuilder(kind, with_split="split" in rec)
                        sink = CanonicalSink(kind, builder.schema, workdir, opts)
                    elif opts.kind is None and detected is not None and detected != builder.kind:
                        raise RowError(
                            f"mixed schemas: this row looks like {detected}, earlier rows are {builder.kind}"
                        )
                    builder.add(rec)
                except RowError as e:
                    err, field_name = e.message, e.field
            if err is not None:
                where = f"{file}:{num}"
                if not opts.skip_invalid:
                    details: dict[str, Any] = {"file": file, unit: num}
                    if field_name:
                        details["field"] = field_name
                    raise InvalidInput(f"{where}: {err}", details=details)
                invalid += 1
                if len(skipped) < 20:
                    skipped.append(f"{where}: {err}")
                continue
            assert builder is not None and sink is not None
            if len(builder) >= opts.batch_rows:
                sink.write(builder.flush())
        if builder is None or sink is None or (len(builder) == 0 and sink.rows == 0):
            what = f"all {invalid} rows were invalid" if invalid else "it holds no rows"
            raise InvalidInput(f"{source.display}: nothing to add: {what}", details={"file": source.display})
        if len(builder):
            sink.write(builder.flush())
        return sink.close(invalid_rows=invalid, skipped=skipped)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise


def ingest_options(spec: DatasetAdd | None = None) -> IngestOptions:
    """Options from ``LLMLOOP_DATA_*`` settings, and from an add request when there is one."""
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
