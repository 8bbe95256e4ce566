"""The five row kinds, their canonical Arrow schemas, detection, and per-record validation.

Canonical rows are what a version *is*: the kind's fields in a fixed order, then ``metadata``
(a JSON object as sorted, compact text, or null) holding every other field a record had, then
``split`` when the version is split. Two files with the same canonical rows are the same version,
whatever their format, key order or whitespace.

    text               text
    prompt_completion  prompt, completion
    chat               messages: [{role, content}, …]  (OpenAI roles; content a string or text parts)
    preference         prompt, chosen, rejected
    eval               input, reference  (+ metadata)
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, Literal, get_args

import pyarrow as pa

from llmloop.errors import InvalidInput

Kind = Literal["text", "prompt_completion", "chat", "preference", "eval"]
KINDS: tuple[Kind, ...] = get_args(Kind)
FIELDS: dict[Kind, tuple[str, ...]] = {
    "text": ("text",),
    "prompt_completion": ("prompt", "completion"),
    "chat": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
    "eval": ("input", "reference"),
}
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
RESERVED = frozenset({"metadata", "split"})
SPLIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MESSAGE = pa.struct(
    [pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string(), nullable=False)]
)
MESSAGES = pa.list_(pa.field("item", MESSAGE, nullable=False))


def arrow_schema(kind: Kind, *, with_split: bool = False) -> pa.Schema:
    fields = [
        pa.field(name, MESSAGES if name == "messages" else pa.string(), nullable=False)
        for name in FIELDS[kind]
    ]
    fields.append(pa.field("metadata", pa.string(), nullable=True))
    if with_split:
        fields.append(pa.field("split", pa.string(), nullable=False))
    return pa.schema(fields)


def kind_of_schema(schema: pa.Schema) -> Kind:
    names = tuple(n for n in schema.names if n not in RESERVED)
    for kind in KINDS:
        if FIELDS[kind] == names:
            return kind
    raise ValueError(f"not a canonical schema: {schema.names}")


class RowError(Exception):
    """One record does not fit its kind; ``field`` names where (``messages[2].role``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def detect_kind(keys: Collection[str]) -> Kind | None:
    """The kind a record's field names suggest; the most specific wins (preference before prompt_completion)."""
    k = set(keys)
    if "messages" in k:
        return "chat"
    if {"chosen", "rejected"} <= k:
        return "preference"
    if {"input", "reference"} <= k:
        return "eval"
    if {"prompt", "completion"} <= k:
        return "prompt_completion"
    if "text" in k:
        return "text"
    return None


def apply_mapping(rec: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Rename source fields to canonical ones (``--map question=prompt``)."""
    if not mapping:
        return rec
    out = dict(rec)
    for src, dst in mapping.items():
        if src in out:
            if dst in out and dst != src:
                raise RowError(f"--map {src}={dst}: the record already has a field {dst!r}", field=dst)
            out[dst] = out.pop(src)
    return out


def parse_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["question=prompt", …]`` (the ``--map`` syntax) as a dict."""
    out: dict[str, str] = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise InvalidInput(f"invalid mapping {item!r}: expected SOURCE=TARGET", details={"field": "map"})
        out[src.strip()] = dst.strip()
    return out


def _string(value: Any, field: str) -> str:
    if type(value) is str:
        return value
    raise RowError(f"field {field!r} must be a string, got {json_type(value)}", field=field)


def _content(value: Any, field: str) -> str:
    if type(value) is str:
        return value
    if isinstance(value, list):  # OpenAI content parts: only text parts are data we can store
        parts = []
        for j, part in enumerate(value):
            if not (
                isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
            ):
                raise RowError(
                    f"{field}[{j}] must be a text part {{'type': 'text', 'text': ...}}", field=field
                )
            parts.append(part["text"])
        return "".join(parts)
    raise RowError(f"field {field!r} must be a string, got {json_type(value)}", field=field)


def _messages(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, str):  # CSV cells and some Parquet files carry the list as JSON text
        try:
            value = json.loads(value)
        except ValueError as e:
            raise RowError(
                f"field 'messages' is a string that is not a JSON list: {e}", field="messages"
            ) from e
    if not isinstance(value, list):
        raise RowError(
            f"field 'messages' must be a list of messages, got {json_type(value)}", field="messages"
        )
    if not value:
        raise RowError("field 'messages' is empty: a chat row needs at least one message", field="messages")
    out = []
    for i, m in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise RowError(
                f"{where} must be an object with role and content, got {json_type(m)}", field=where
            )
        extra = set(m) - {"role", "content"}
        if extra:
            raise RowError(
                f"{where} has unsupported key(s) {sorted(extra)}: a message holds 'role' and 'content'",
                field=f"{where}.{sorted(extra)[0]}",
            )
        if "role" not in m:
            raise RowError(f"{where}.role is missing", field=f"{where}.role")
        if "content" not in m:
            raise RowError(f"{where}.content is missing", field=f"{where}.content")
        role = m["role"]
        if role not in ROLES:
            raise RowError(
                f"{where}.role is {role!r}; expected one of {', '.join(sorted(ROLES))}", field=f"{where}.role"
            )
        out.append((role, _content(m["content"], f"{where}.content")))
    return out


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_jsonable
    )


def _metadata(rec: Mapping[str, Any], kind: Kind) -> str | None:
    fields = FIELDS[kind]
    meta: Any = rec.get("metadata")
    if isinstance(meta, str) and meta.strip():
        try:
            meta = json.loads(meta)
        except ValueError as e:
            raise RowError("field 'metadata' is a string that is not a JSON object", field="metadata") from e
    if meta is None or meta == "":
        meta = {}
    if not isinstance(meta, dict):
        raise RowError(f"field 'metadata' must be an object, got {json_type(meta)}", field="metadata")
    extras = {k: v for k, v in rec.items() if k not in fields and k not in RESERVED}
    if not extras and not meta:
        return None
    clash = set(extras) & set(meta)
    if clash:
        k = sorted(clash)[0]
        raise RowError(f"field {k!r} is both a top-level field and a metadata key", field=k)
    try:
        return canonical_json({**meta, **extras})
    except ValueError as e:  # NaN / Infinity
        raise RowError(f"metadata holds a value JSON cannot represent: {e}", field="metadata") from e


class RowBuilder:
    """Turns Python records into canonical Arrow batches, validating a record fully before keeping any of it."""

    def __init__(self, kind: Kind, *, with_split: bool = False) -> None:
        self.kind = kind
        self.with_split = with_split
        self.schema = arrow_schema(kind, with_split=with_split)
        self._fields = FIELDS[kind]
        self._reset()

    def _reset(self) -> None:
        self._cols: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        self._roles: list[str] = []
        self._contents: list[str] = []
        self._offsets: list[int] = [0]
        self.rows = 0

    def add(self, rec: Mapping[str, Any]) -> None:
        missing = [f for f in self._fields if f not in rec]
        if missing:
            raise RowError(
                f"field {missing[0]!r} is missing (a {self.kind} row needs {', '.join(self._fields)})",
                field=missing[0],
            )
        split = None
        if self.with_split:
            split = rec.get("split")
            if not isinstance(split, str) or not SPLIT_RE.match(split):
                raise RowError(
                    f"field 'split' must be a split name like 'train', got {split!r:.60}", field="split"
                )
        elif "split" in rec:
            raise RowError("field 'split' appears although the first row had none", field="split")
        if self.kind == "chat":
            msgs = _messages(rec["messages"])
            meta = _metadata(rec, self.kind)
            for role, content in msgs:
                self._roles.append(role)
                self._contents.append(content)
            self._offsets.append(len(self._roles))
        else:
            values = [_string(rec[f], f) for f in self._fields]
            meta = _metadata(rec, self.kind)
            for f, v in zip(self._fields, values, strict=True):
                self._cols[f].append(v)
        self._cols["metadata"].append(meta)
        if self.with_split:
            self._cols["split"].append(split)
        self.rows += 1

    def __len__(self) -> int:
        return self.rows

    def flush(self) -> pa.RecordBatch:
        arrays: list[pa.Array] = []
        for field in self.schema:
            if field.name == "messages":
                values = pa.StructArray.from_arrays(
                    [pa.array(self._roles, pa.string()), pa.array(self._contents, pa.string())],
                    fields=list(MESSAGE),
                )
                arrays.append(
                    pa.ListArray.from_arrays(pa.array(self._offsets, pa.int32()), values, type=MESSAGES)
                )
            else:
                arrays.append(pa.array(self._cols[field.name], pa.string()))
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self._reset()
        return batch
