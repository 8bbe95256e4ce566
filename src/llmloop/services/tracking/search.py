"""The run search grammar, compiled to SQL.

    filter   := clause ("and" clause)*
    clause   := FIELD OP VALUE
    FIELD    := metrics.KEY | params.KEY | tags.KEY | status | name | kind | start_time | end_time
    OP       := = | != | < | <= | > | >= | like
    VALUE    := number | 'string' | "string"

Params and tags compare as strings (as logged); metrics as numbers against each run's
latest value. Every clause becomes one correlated ``EXISTS`` or a column test, so a
search over thousands of runs is one indexed query.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, asc, desc, exists, select

from llmloop.errors import InvalidInput
from llmloop.store.tables.tracking import LatestMetricRow, ParamRow, RunRow, TagRow

_CLAUSE = re.compile(
    r"""^\s*(?P<field>(?:metrics|params|tags)\.(?:`[^`]+`|[\w./-]+)|status|name|kind|start_time|end_time)
        \s*(?P<op>!=|<=|>=|=|<|>|\blike\b)\s*
        (?P<value>'[^']*'|"[^"]*"|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_ATTRS = {
    "status": RunRow.status,
    "name": RunRow.name,
    "kind": RunRow.kind,
    "start_time": RunRow.start_time,
    "end_time": RunRow.end_time,
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    op = op.lower()
    if op == "like":
        return column.like(value)  # type: ignore[no-any-return]
    ops = {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    return ops[op](value)  # type: ignore[no-any-return]


def _split_and(text: str) -> list[str]:
    """Split on ``and`` outside quotes."""
    parts: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif text[i : i + 5].lower() == " and ":
            parts.append("".join(buf))
            buf = []
            i += 5
            continue
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return [p for p in (s.strip() for s in parts) if p]


def _key(field: str) -> tuple[str, str]:
    kind, _, key = field.partition(".")
    return kind.lower(), key.strip("`")


def compile_filter(text: str | None) -> list[ColumnElement[bool]]:
    if not text or not text.strip():
        return []
    conditions: list[ColumnElement[bool]] = []
    for clause in _split_and(text):
        m = _CLAUSE.match(clause)
        if not m:
            raise InvalidInput(
                f'cannot parse filter clause {clause!r}: expected e.g. "metrics.loss < 0.5" or "params.lr = \'0.01\'"',
                details={"field": "filter", "clause": clause[:200]},
            )
        field, op, raw = m["field"], m["op"], m["value"]
        is_str = raw[0] in "'\""
        value: Any = raw[1:-1] if is_str else float(raw)
        if "." in field:
            kind, key = _key(field)
            if kind == "metrics":
                if is_str:
                    raise InvalidInput(
                        f"metric {key!r} compares with a number, not {raw}", details={"field": "filter"}
                    )
                conditions.append(
                    exists().where(
                        LatestMetricRow.run_id == RunRow.id,
                        LatestMetricRow.key == key,
                        _compare(LatestMetricRow.value, op, value),
                    )
                )
            else:
                table = ParamRow if kind == "params" else TagRow
                conditions.append(
                    exists().where(
                        table.run_id == RunRow.id,
                        table.key == key,
                        _compare(table.value, op, str(raw[1:-1] if is_str else raw)),
                    )
                )
        else:
            conditions.append(_compare(_ATTRS[field.lower()], op, value))
    return conditions


def compile_order(order_by: list[str]) -> list[Any]:
    out: list[Any] = []
    for item in order_by:
        parts = item.strip().split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in {"ASC", "DESC"}):
            raise InvalidInput(
                f"cannot parse order_by {item!r}: expected 'FIELD [ASC|DESC]'", details={"field": "order_by"}
            )
        field, direction = parts[0], (parts[1].upper() if len(parts) == 2 else "ASC")
        fn = asc if direction == "ASC" else desc
        if field.startswith(("metrics.", "params.", "tags.")):
            kind, key = _key(field)
            sub: Any
            if kind == "metrics":
                sub = select(LatestMetricRow.value).where(
                    LatestMetricRow.run_id == RunRow.id, LatestMetricRow.key == key
                )
            else:
                table = ParamRow if kind == "params" else TagRow
                sub = select(table.value).where(table.run_id == RunRow.id, table.key == key)
            out.append(fn(sub.scalar_subquery()).nulls_last())
        elif field.lower() in _ATTRS:
            out.append(fn(_ATTRS[field.lower()]))
        else:
            raise InvalidInput(f"cannot order by {field!r}", details={"field": "order_by"})
    return out


def combine(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool] | None:
    return and_(*conditions) if conditions else None
