"""The six row kinds, their canonical Arrow schemas, detection, and per-record validation.

This module is the one definition of a row kind: the datasets service stores rows through it and
training reads local files through it, so a row one accepts the other accepts too.

Canonical rows are what a version *is*: the kind's fields in a fixed order, then ``metadata``
(a JSON object as sorted, compact text, or null) holding every other field a record had, then
``split`` when the version is split. Two files with the same canonical rows are the same version,
whatever their format, key order or whitespace.

    text               text
    prompt_completion  prompt, completion
    chat               messages: [{role, content}, …]  (OpenAI roles; content a string or text parts)
    preference         prompt, chosen, rejected: each a list of messages
    eval               input, reference  (+ metadata)
    prompt             prompt  (prompts alone: what a distillation teacher answers)

A preference row is stored in TRL's conversational form, whichever form it came in. TRL accepts
two: the standard one (``prompt``, ``chosen``, ``rejected`` strings) and the conversational one
(message lists). A string ``prompt`` is shorthand for one user message and a string answer for
one assistant message, so both forms of the same pair are the same row; answers must end with an
assistant message. Two more shapes TRL reads are accepted too: answers that repeat the prompt as
their opening turns (as ``HuggingFaceH4/ultrafeedback_binarized`` does) lose that repeat, and a row
with no ``prompt`` takes the turns ``chosen`` and ``rejected`` open with alike (TRL's implicit prompt).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, Literal, get_args

import pyarrow as pa

from llmloop.errors import InvalidInput

Kind = Literal["text", "prompt_completion", "chat", "preference", "eval", "prompt"]
KINDS: tuple[Kind, ...] = get_args(Kind)
FIELDS: dict[Kind, tuple[str, ...]] = {
    "text": ("text",),
    "prompt_completion": ("prompt", "completion"),
    "chat": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
    "eval": ("input", "reference"),
    "prompt": ("prompt",),
}
# Fields held as message lists, and the role a plain string in one of them stands for.
MESSAGE_FIELDS: dict[Kind, tuple[str, ...]] = {
    "chat": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
}
STRING_ROLE = {"prompt": "user", "chosen": "assistant", "rejected": "assistant"}
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
RESERVED = frozenset({"metadata", "split"})
SPLIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MESSAGE = pa.struct(
    [pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string(), nullable=False)]
)
MESSAGES = pa.list_(pa.field("item", MESSAGE, nullable=False))


def arrow_schema(kind: Kind, *, with_split: bool = False) -> pa.Schema:
    lists = MESSAGE_FIELDS.get(kind, ())
    fields = [
        pa.field(name, MESSAGES if name in lists else pa.string(), nullable=False) for name in FIELDS[kind]
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
    """The kind a record's field names suggest; the most specific wins (preference before prompt_completion).

    ``prompt`` alone is a prompts row only when nothing else but an ``id`` stands beside it, so a
    prompt whose answer field has another name is still an error to fix with ``--map``, not a
    different kind.
    """
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
    if k - RESERVED - {"id"} == {"prompt"}:
        return "prompt"
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


Message = dict[str, str]


def _messages(value: Any, field: str = "messages") -> list[Message]:
    """A non-empty list of ``{role, content}`` messages; ``field`` names where in errors."""
    if isinstance(value, str):  # CSV cells and some Parquet files carry the list as JSON text
        try:
            value = json.loads(value)
        except ValueError as e:
            raise RowError(f"field {field!r} is a string that is not a JSON list: {e}", field=field) from e
    if not isinstance(value, list):
        raise RowError(f"field {field!r} must be a list of messages, got {json_type(value)}", field=field)
    if not value:
        raise RowError(f"field {field!r} is empty: it needs at least one message", field=field)
    out = []
    for i, m in enumerate(value):
        where = f"{field}[{i}]"
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
        out.append({"role": role, "content": _content(m["content"], f"{where}.content")})
    return out


def _json_list(value: str) -> Any:
    """The list a string spells as JSON text (a CSV cell of a conversation), else the string itself."""
    if value.lstrip().startswith("["):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if isinstance(decoded, list) and decoded and all(isinstance(m, dict) for m in decoded):
            return decoded
    return value


def _turns(rec: Mapping[str, Any], field: str) -> list[Message]:
    """One preference field as messages: a string is one message in the field's role."""
    value = rec[field]
    if isinstance(value, str):
        value = _json_list(value)
        if isinstance(value, str):
            return [{"role": STRING_ROLE[field], "content": value}]
    return _messages(value, field)


def _shared_head(a: list[Message], b: list[Message]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def preference_turns(rec: Mapping[str, Any]) -> tuple[list[Message], list[Message], list[Message]]:
    """(prompt, chosen, rejected) of a preference record in either TRL form, as message lists."""
    chosen, rejected = _turns(rec, "chosen"), _turns(rec, "rejected")
    if "prompt" in rec:
        prompt = _turns(rec, "prompt")
        head = len(prompt)
        if chosen[:head] == prompt and rejected[:head] == prompt:  # answers that repeat the prompt
            chosen, rejected = chosen[head:], rejected[head:]
    else:  # TRL's implicit prompt: the opening turns both answers share
        head = _shared_head(chosen, rejected)
        while head and chosen[head - 1]["role"] == "assistant":
            head -= 1  # the prompt ends before an answer starts
        if head == 0:
            raise RowError(
                "field 'prompt' is missing, and 'chosen' and 'rejected' share no opening turns to take "
                "it from",
                field="prompt",
            )
        prompt, chosen, rejected = chosen[:head], chosen[head:], rejected[head:]
    for field, turns in (("chosen", chosen), ("rejected", rejected)):
        if not turns or turns[-1]["role"] != "assistant":
            raise RowError(
                f"field {field!r} must end with an assistant message (the answer being ranked)", field=field
            )
    return prompt, chosen, rejected


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


def canonical_record(kind: Kind, rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record as its canonical row (the kind's fields in order, then ``metadata``), checked fully.

    What the datasets service stores and what training reads from a local file, so both read one
    row the same way. Raises ``RowError`` naming the field at fault.
    """
    fields = FIELDS[kind]
    required = tuple(f for f in fields if not (kind == "preference" and f == "prompt"))
    missing = [f for f in required if f not in rec]
    if missing:
        raise RowError(
            f"field {missing[0]!r} is missing (a {kind} row needs {', '.join(fields)})", field=missing[0]
        )
    row: dict[str, Any]
    if kind == "chat":
        row = {"messages": _messages(rec["messages"])}
    elif kind == "preference":
        row = dict(zip(fields, preference_turns(rec), strict=True))
    else:
        row = {f: _string(rec[f], f) for f in fields}
    row["metadata"] = _metadata(rec, kind)
    return row


def string_messages(col: pa.Array, role: str) -> pa.Array:
    """A string column as a message-list column: each value one message in ``role``."""
    n = len(col)
    values = pa.StructArray.from_arrays(
        [pa.array([role] * n, pa.string()), col.cast(pa.string())], fields=list(MESSAGE)
    )
    return pa.ListArray.from_arrays(pa.array(range(n + 1), pa.int32()), values, type=MESSAGES)


def upgrade_batch(batch: pa.RecordBatch, kind: Kind) -> pa.RecordBatch:
    """A stored batch in today's canonical schema.

    Preference versions written before preference rows became conversational hold strings; each
    reads as the one message it stands for, so every reader sees one form.
    """
    names = [n for n in MESSAGE_FIELDS.get(kind, ()) if not pa.types.is_list(batch.schema.field(n).type)]
    if not names:
        return batch
    schema = arrow_schema(kind, with_split="split" in batch.schema.names)
    cols = [
        string_messages(batch.column(n), STRING_ROLE[n]) if n in names else batch.column(n)
        for n in schema.names
    ]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


class RowBuilder:
    """Turns Python records into canonical Arrow batches, validating a record fully before keeping any of it."""

    def __init__(self, kind: Kind, *, with_split: bool = False) -> None:
        self.kind = kind
        self.with_split = with_split
        self.schema = arrow_schema(kind, with_split=with_split)
        self._reset()

    def _reset(self) -> None:
        self._cols: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        self.rows = 0

    def add(self, rec: Mapping[str, Any]) -> None:
        split = None
        if self.with_split:
            split = rec.get("split")
            if not isinstance(split, str) or not SPLIT_RE.match(split):
                raise RowError(
                    f"field 'split' must be a split name like 'train', got {split!r:.60}", field="split"
                )
        elif "split" in rec:
            raise RowError("field 'split' appears although the first row had none", field="split")
        row = canonical_record(self.kind, rec)
        for name, value in row.items():
            self._cols[name].append(value)
        if self.with_split:
            self._cols["split"].append(split)
        self.rows += 1

    def __len__(self) -> int:
        return self.rows

    def flush(self) -> pa.RecordBatch:
        arrays = [pa.array(self._cols[f.name], f.type) for f in self.schema]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self._reset()
        return batch
