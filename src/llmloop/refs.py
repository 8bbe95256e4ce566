"""The one reference grammar: ``NAME``, ``NAME@VERSION``, ``NAME@ALIAS``.

A version is a positive integer; anything else after ``@`` is an alias. Names are
restricted so they can be used as path segments and URL parts without escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmloop.errors import InvalidInput

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ALIAS_RE = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def validate_name(name: str, *, what: str = "name") -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            details={"field": what, "value": str(name)[:200]},
        )
    return name


def validate_alias(alias: str) -> str:
    if not ALIAS_RE.fullmatch(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}: use a letter then letters, digits, '.', '_' or '-' (max 64)",
            details={"field": "alias", "value": alias[:200]},
        )
    return alias


def parse_ref(text: str) -> Ref:
    """Parse ``NAME[@VERSION|@ALIAS]``; raises InvalidInput naming what is wrong."""
    if not isinstance(text, str) or not text:
        raise InvalidInput("empty reference: expected NAME, NAME@VERSION or NAME@ALIAS")
    name, sep, tail = text.partition("@")
    validate_name(name, what="reference name")
    if not sep:
        return Ref(name)
    if tail.isdigit():
        version = int(tail)
        if version < 1:
            raise InvalidInput(f"invalid version in {text!r}: versions start at 1")
        return Ref(name, version=version)
    return Ref(name, alias=validate_alias(tail))
