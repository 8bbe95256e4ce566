"""Page tokens: the one cursor every paged listing (runs, traces, evaluations, examples) gives out.

A listing returns ``next_page_token`` and takes it back as ``page_token``; clients treat it as
opaque. Inside it is URL-safe base64 of compact JSON naming the listing it belongs to and where
the next page starts, in one of two ways:

* **keyset** (``after``): the sort key of the last row served. The next query seeks past it
  (``WHERE (start_time, id) < (:t, :id)`` in the listing's order) instead of counting rows off
  with ``OFFSET``, so a page costs the same at any depth and rows written meanwhile neither
  repeat nor vanish. Every listing whose order ends in a unique key pages this way.
* **offset**: a row count, only where the order has no seekable key (runs in a caller-chosen
  order, examples sorted worst-first by a score computed in Python).

A token from another listing, from a different kind of page, or not a token at all is
``InvalidInput`` naming the parameter it came in.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from llmloop.errors import InvalidInput

Key = tuple[str | int | float, ...]


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after a sort key, or at a row offset (0 and no key: the first page)."""

    after: Key | None = None
    offset: int = 0


def encode(listing: str, *, after: Key | None = None, offset: int | None = None) -> str:
    """The token for the page after ``after`` (keyset) or at ``offset`` (offset) in ``listing``."""
    if (after is None) == (offset is None):
        raise ValueError("a page token holds either a sort key or an offset")
    body: dict[str, Any] = {"l": listing}
    if after is not None:
        body["a"] = list(after)
    else:
        body["o"] = offset
    raw = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(
    token: str | None, listing: str, *, key_types: tuple[type, ...] | None = None, param: str = "page_token"
) -> Cursor:
    """The cursor a token of ``listing`` holds; ``key_types`` is the listing's sort key (keyset pages)."""
    if not token:
        return Cursor()
    bad = InvalidInput(
        f"invalid {param}: not a token that this {listing} listing gave out", details={"field": param}
    )
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(body, dict) or body.get("l") != listing:
        raise bad
    if key_types is not None:
        after = body.get("a")
        if not (
            isinstance(after, list)
            and len(after) == len(key_types)
            and all(_fits(v, t) for v, t in zip(after, key_types, strict=True))
        ):
            raise bad
        return Cursor(after=tuple(after))
    offset = body.get("o")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise bad
    return Cursor(offset=offset)


def _fits(value: Any, kind: type) -> bool:
    """JSON has one number type: an int is a fine float; a bool is no number at all."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) if kind is float else isinstance(value, kind)


def seek(order: Sequence[tuple[Any, bool]], after: Key) -> ColumnElement[bool]:
    """The keyset WHERE clause: rows past ``after`` in ``order``, (column, descending) pairs."""
    clauses = []
    for i, (column, descending) in enumerate(order):
        same = [c == v for (c, _), v in zip(order[:i], after, strict=False)]
        clauses.append(and_(*same, column < after[i] if descending else column > after[i]))
    return or_(*clauses)
