"""Where rows come from: resolving a path or fsspec URL to files, and streaming records out of each format.

Every reader is a generator over bounded chunks, so no file, however large, sits whole in memory:
JSONL is split on newlines chunk by chunk (a line longer than ``max_line_bytes`` is refused without
being kept), a JSON array is decoded element by element, CSV goes through the stdlib reader in strict
mode (a broken quote is an error, not a swallowed file), Parquet by row batches and a saved Hugging
Face dataset through ``load_from_disk``'s memory map.

Readers yield ``(line, record, error)``: a record, or an error a caller may skip with
``--skip-invalid``. Errors that leave a parser unable to find the next record (a CSV quote never
closed, a broken JSON array) raise ``InvalidInput`` at once.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from llmloop.config import mask_secrets
from llmloop.errors import InvalidInput, Unavailable

FORMATS = ("jsonl", "json", "csv", "parquet", "hf")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
CHUNK = 1 << 20
BOM = b"\xef\xbb\xbf"

Item = tuple[int, Any, "str | None"]  # (line or row number, record, error message)


@dataclass(frozen=True)
class SourceFile:
    display: str  # what errors name: the path as given, or the URL with any password masked
    fs: Any
    path: str
    size: int | None
    compression: str | None
    local: bool
    delimiter: str = ","


@dataclass(frozen=True)
class Source:
    display: str
    format: str
    files: tuple[SourceFile, ...]
    url: str

    @property
    def total_bytes(self) -> int | None:
        sizes = [f.size for f in self.files]
        if not sizes or any(s is None or f.compression for s, f in zip(sizes, self.files, strict=True)):
            return None
        return sum(s for s in sizes if s is not None)


def _format_of(name: str) -> tuple[str | None, str | None, str]:
    suffixes = [s.lower() for s in PurePosixPath(name).suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    return EXTENSIONS.get(ext), compression, "\t" if ext == ".tsv" else ","


def data_suffix(name: str) -> str:
    """The format and compression suffixes of a file name (``.jsonl.gz``), and nothing else from it."""
    suffixes = [x.lower() for x in PurePosixPath(name).suffixes[-2:]]
    return "".join(x for x in suffixes if x in EXTENSIONS or x in COMPRESSIONS)


def resolve_source(path: str, *, fmt: str | None = None, display: str | None = None) -> Source:
    """The files behind a path, glob, folder or fsspec URL, and the one format they share."""
    import fsspec

    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(
            f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", details={"field": "format"}
        )
    shown = display or mask_secrets(str(path))
    try:
        fs, root = fsspec.core.url_to_fs(str(path))
    except (ImportError, ValueError) as e:
        raise InvalidInput(f"cannot open {shown}: {e}", details={"path": shown}) from e
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    try:
        if any(ch in root for ch in "*?["):
            paths = sorted(p for p in fs.glob(root) if fs.isfile(p))
            if not paths:
                raise InvalidInput(f"no file matches {shown}", details={"path": shown})
        elif fs.isdir(root):
            names = {PurePosixPath(p).name for p in fs.ls(root, detail=False)}
            if fmt == "hf" or (fmt is None and names & set(HF_MARKERS)):
                return Source(shown, "hf", (), str(path))
            listing = [(p, _format_of(p)[0]) for p in fs.ls(root, detail=False) if fs.isfile(p)]
            paths = sorted(p for p, f in listing if f is not None and (fmt is None or f == fmt))
            if not paths:
                raise InvalidInput(
                    f"{shown} is a folder with no data files (.jsonl, .json, .csv, .parquet)",
                    details={"path": shown},
                )
        elif fs.isfile(root):
            paths = [root]
        else:
            raise InvalidInput(f"file not found: {shown}", details={"path": shown})
    except (PermissionError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise InvalidInput(f"file not found: {shown}", details={"path": shown}) from e
        raise InvalidInput(f"cannot read {shown}: {e}", details={"path": shown}) from e
    files = []
    formats = set()
    for p in paths:
        found, compression, delimiter = _format_of(p)
        formats.add(fmt or found)
        name = (
            display if display and len(paths) == 1 else (p if local else mask_secrets(fs.unstrip_protocol(p)))
        )
        files.append(SourceFile(name, fs, p, fs.size(p), compression, local, delimiter))
    if None in formats:
        raise InvalidInput(
            f"cannot tell the format of {shown} from its name; pass --format ({', '.join(FORMATS)})",
            details={"path": shown},
        )
    if len(formats) > 1:
        raise InvalidInput(
            f"{shown} mixes formats {sorted(str(f) for f in formats)}", details={"path": shown}
        )
    return Source(shown, formats.pop() or "jsonl", tuple(files), str(path))


class CountingReader(io.RawIOBase):
    """A raw stream that reports how many bytes were read (for progress bars)."""

    def __init__(self, fh: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._fh = fh
        self._on_bytes = on_bytes
        self.bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._fh.read(len(buf))
        n = len(data)
        buf[:n] = data
        if n:
            self.bytes += n
            if self._on_bytes is not None:
                self._on_bytes(n)
        return n


@contextlib.contextmanager
def open_binary(f: SourceFile, on_bytes: Callable[[int], None] | None = None) -> Iterator[CountingReader]:
    """The file's (decompressed) bytes through a CountingReader."""
    from fsspec.core import OpenFile

    try:
        opened = OpenFile(f.fs, f.path, mode="rb", compression=f.compression)
        with opened as fh:
            yield CountingReader(fh, on_bytes)
    except FileNotFoundError as e:
        raise InvalidInput(f"file not found: {f.display}", details={"file": f.display}) from e


def _loads() -> Callable[[bytes], Any]:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is in the data extra
        return json.loads
    return orjson.loads


def _line_error(line: bytes, e: Exception) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return f"invalid UTF-8 (byte {u.start} of the line)"
    msg = str(e).split(": line")[0]
    return f"malformed JSON: {msg}"


def iter_jsonl(fh: io.RawIOBase, max_line: int) -> Iterator[Item]:
    """Records of a JSONL stream; blank lines are skipped but counted."""
    loads = _loads()
    lineno = 0
    parts: list[bytes] = []
    size = 0
    first = True
    skipping = False

    def parse(line: bytes) -> Item | None:
        nonlocal first
        if first:
            first = False
            if line.startswith(BOM):
                line = line[3:]
        if not line.strip():
            return None
        try:
            value = loads(line)
        except ValueError as e:
            return (lineno, None, _line_error(line, e))
        if not isinstance(value, dict):
            return (lineno, None, f"expected a JSON object, got {_json_kind(value)}")
        return (lineno, value, None)

    while chunk := fh.read(CHUNK):
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                rest = chunk[start:]
                if not skipping:
                    parts.append(rest)
                    size += len(rest)
                    if size > max_line:
                        skipping, parts, size = True, [], 0
                break
            piece = chunk[start:nl]
            start = nl + 1
            lineno += 1
            if skipping:
                skipping = False
                yield (
                    lineno,
                    None,
                    f"line is longer than the limit of {max_line} bytes (LLMLOOP_DATA_MAX_LINE_BYTES)",
                )
                continue
            if parts:
                piece = b"".join([*parts, piece])
                parts, size = [], 0
            if len(piece) > max_line:
                yield (
                    lineno,
                    None,
                    f"line is longer than the limit of {max_line} bytes (LLMLOOP_DATA_MAX_LINE_BYTES)",
                )
                continue
            item = parse(piece)
            if item is not None:
                yield item
    if skipping:
        yield (
            lineno + 1,
            None,
            f"line is longer than the limit of {max_line} bytes (LLMLOOP_DATA_MAX_LINE_BYTES)",
        )
    elif parts:
        lineno += 1
        item = parse(b"".join(parts))
        if item is not None:
            yield item


def read_jsonl(path: str | Path, *, max_line: int = 64 << 20) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, record)`` of a local JSONL file, streamed; the first bad line is InvalidInput naming FILE:LINE.

    The one JSONL reader for rows read whole (training and evaluation files): the same parser as
    ``llmloop data add``, so a file one accepts the others accept, with the same messages.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"file not found: {p}", details={"file": str(p)})
    with p.open("rb") as fh:
        for line, rec, err in iter_jsonl(CountingReader(fh, None), max_line):
            if err is not None:
                raise InvalidInput(f"{p}:{line}: {err}", details={"file": str(p), "line": line})
            yield line, rec


def _json_kind(value: Any) -> str:
    from llmloop.services.data.kinds import json_type

    return json_type(value)


def iter_json_array(fh: io.RawIOBase, max_elem: int, display: str) -> Iterator[Item]:
    """Elements of a top-level JSON array, decoded one at a time from a sliding text window."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    buf = ""
    pos = 0
    base_line = 1  # line number of buf[0]
    eof = False

    def fatal(msg: str, at: int) -> InvalidInput:
        line = base_line + buf.count("\n", 0, at)
        return InvalidInput(f"{display}:{line}: {msg}", details={"file": display, "line": line})

    def more() -> bool:
        nonlocal buf, pos, base_line, eof
        if eof:
            return False
        data = fh.read(CHUNK)
        base_line += buf.count("\n", 0, pos)
        try:
            text = utf8.decode(data, final=not data)
        except UnicodeDecodeError as e:
            raise fatal(f"invalid UTF-8 (byte {e.start} of a chunk)", len(buf)) from e
        buf = buf[pos:] + text
        pos = 0
        eof = not data
        return True

    def skip_ws() -> bool:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf):
                return True
            if not more():
                return False

    if not skip_ws():
        return  # empty file: the caller reports no rows
    if buf[pos] != "[":
        raise fatal(
            "a .json file must hold one JSON array of objects (for one object per line use .jsonl)", pos
        )
    pos += 1
    expect_value = True
    after_comma = False
    while True:
        if not skip_ws():
            raise fatal("the JSON array is not closed (missing ']')", len(buf))
        if buf[pos] == "]":
            if after_comma:
                raise fatal("a ',' before ']' (trailing commas are not JSON)", pos)
            pos += 1
            if skip_ws():
                raise fatal("unexpected data after the closing ']'", pos)
            return
        if not expect_value:
            if buf[pos] != ",":
                raise fatal("expected ',' or ']' between array elements", pos)
            pos += 1
            expect_value = after_comma = True
            continue
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as e:
                if len(buf) - pos > max_elem:
                    raise fatal(f"an element is longer than the limit of {max_elem} bytes", pos) from e
                if not more():
                    raise fatal(f"malformed JSON: {e.msg}", e.pos) from e
        line = base_line + buf.count("\n", 0, pos)
        pos = end
        expect_value = after_comma = False
        if not isinstance(value, dict):
            yield (line, None, f"expected a JSON object, got {_json_kind(value)}")
        else:
            yield (line, value, None)


def iter_csv(fh: io.RawIOBase, max_field: int, display: str, delimiter: str = ",") -> Iterator[Item]:
    """Rows of a CSV file with a header line, as dicts; strict quoting, the line a record starts on."""
    csv.field_size_limit(max(max_field, 131072))
    text = io.TextIOWrapper(io.BufferedReader(fh, CHUNK), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True, delimiter=delimiter)
    start = 1
    try:
        header = next(reader, None)
        if header is None:
            return
        if len(set(header)) != len(header) or any(not h.strip() for h in header):
            raise InvalidInput(
                f"{display}:1: the header has empty or repeated column names",
                details={"file": display, "line": 1},
            )
        start = reader.line_num + 1
        for row in reader:
            line = start
            start = reader.line_num + 1
            if not row:
                continue
            if len(row) != len(header):
                yield (line, None, f"has {len(row)} fields; the header has {len(header)}")
                continue
            yield (line, dict(zip(header, row, strict=True)), None)
    except csv.Error as e:
        msg = str(e)
        if "unexpected end of data" in msg or "field larger" in msg:
            msg = "a quoted field starting on this line is never closed (broken quote)"
        elif "expected after" in msg:
            msg = "a quoted field is followed by more text before the next separator (broken quote)"
        raise InvalidInput(f"{display}:{start}: {msg}", details={"file": display, "line": start}) from e
    except UnicodeDecodeError as e:
        raise InvalidInput(
            f"{display}:{start}: invalid UTF-8", details={"file": display, "line": start}
        ) from e


def iter_parquet(fh: Any, display: str, batch_rows: int) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(fh)
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{display}: not a readable Parquet file: {e}", details={"file": display}) from e
    row = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        for rec in batch.to_pylist():
            row += 1
            yield (row, rec, None)


def iter_hf(url: str, display: str) -> Iterator[Item]:
    """Rows of a saved ``datasets`` Dataset; a DatasetDict's rows carry their split name."""
    try:
        import datasets
    except ImportError as e:
        raise Unavailable("reading a saved Hugging Face dataset needs: pip install 'llmloop[train]'") from e
    try:
        loaded = datasets.load_from_disk(url)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise InvalidInput(
            f"{display}: not a saved Hugging Face dataset: {e}", details={"file": display}
        ) from e
    parts = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    row = 0
    for split, ds in parts:
        for batch in ds.iter(batch_size=1024):
            cols = list(batch)
            for values in zip(*(batch[c] for c in cols), strict=True):
                row += 1
                rec = dict(zip(cols, values, strict=True))
                if split is not None:
                    rec["split"] = split
                yield (row, rec, None)


def file_digest(path: str | Path) -> str:
    """sha256 of a local file's bytes, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK * 4):
            h.update(chunk)
    return h.hexdigest()
