"""Pydantic's ``ValidationError`` as one ``InvalidInput`` that names the key path: the one formatter.

Every configuration file (training, sweep, evaluation suite), every schema built from code and
every request body is validated by Pydantic; this module turns the first problem into the message
a user reads, the same way everywhere:

    sft.yaml: unknown key 'training.lr'; did you mean 'training.learning_rate'?
    suite.yaml: missing key 'name'
    sft.yaml: training.batch_size: Input should be a valid integer (got 'eight') (and 1 more problem)

with ``details={"key": "training.lr", "did_you_mean": "training.learning_rate", ...}``. Key paths
are dotted, list items ``[i]``; Pydantic's internal location tags (``function-after[...]``,
``list[str]``, a union member's class name) are dropped when the model is known. A validator that
knows the key at fault raises ``KeyProblem`` and is reported at that key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from llmloop.config import is_sensitive_name, mask_secrets
from llmloop.errors import InvalidInput

TOP = "(top level)"
_SCALAR_TAGS = frozenset(
    {"str", "int", "float", "bool", "none", "bytes", "dict", "list", "tuple", "set", "frozenset"}
)


class KeyProblem(ValueError):
    """A rule across fields broken at a known key path, reported at that path rather than where Pydantic was."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def closest_key(word: str, choices: Sequence[str], synonyms: Mapping[str, str] | None = None) -> str | None:
    """The valid key a misspelt or foreign one (``lr`` for ``learning_rate``) most likely meant."""
    if synonyms and word in synonyms and synonyms[word] in choices:
        return synonyms[word]
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def unknown_key(
    path: Sequence[str | int],
    choices: Sequence[str],
    *,
    where: str | None = None,
    details: Mapping[str, Any] | None = None,
    synonyms: Mapping[str, str] | None = None,
) -> InvalidInput:
    """``unknown key 'a.b'; did you mean 'a.c'?`` (or the valid keys there) for the key ``path`` ends with."""
    key = dotted(path)
    out: dict[str, Any] = {**(details or {}), "key": key}
    guess = closest_key(str(path[-1]), choices, synonyms)
    message = f"{_prefix(where)}unknown key {key!r}"
    if guess is not None:
        out["did_you_mean"] = dotted([*path[:-1], guess])
        message += f"; did you mean {out['did_you_mean']!r}?"
    elif choices:
        message += f"; valid keys here: {', '.join(sorted(choices))}"
    return InvalidInput(message, details=out)


def format_validation_error(
    err: ValidationError,
    *,
    where: str | None = None,
    model: type[BaseModel] | None = None,
    details: Mapping[str, Any] | None = None,
    synonyms: Mapping[str, str] | None = None,
    detail_name: str = "key",
) -> InvalidInput:
    """The first problem of ``err`` as an InvalidInput naming its key path.

    ``where`` prefixes the message (a file name, a flag); ``model`` (the validated class) lets the
    path drop Pydantic's tags and lets an unknown key suggest the closest valid one; ``details``
    are kept (``{"file": ...}``) and the path is added under ``detail_name`` (``key`` for config
    files, ``field`` for request and SDK values).
    """
    errors = err.errors(include_url=False)
    # A misspelt key also leaves the key it meant missing: the unknown key is the one to name.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    problem = (first.get("ctx") or {}).get("error")
    if isinstance(problem, KeyProblem):
        return InvalidInput(
            f"{_prefix(where)}{problem.key}: {problem.message}",
            details={**(details or {}), detail_name: problem.key},
        )
    path, parent = _path(first["loc"], model)
    if first["type"] == "extra_forbidden" and path:
        choices = [k for k in (parent.model_fields if parent else {}) if k != "base_dir"]
        found = unknown_key(path, choices, where=where, details=details, synonyms=synonyms)
        if detail_name != "key":
            found.details[detail_name] = found.details.pop("key")
        return found
    key = dotted(path) or TOP
    out = {**(details or {}), detail_name: key}
    if first["type"] == "missing":
        return InvalidInput(f"{_prefix(where)}missing key {key!r}", details=out)
    message = str(first["msg"]).removeprefix("Value error, ")
    got = first.get("input")
    # an input is echoed masked, and not at all at a key that names a credential (api_key_env, password)
    secret = is_sensitive_name(str(path[-1])) if path else False
    shown = (
        ""
        if isinstance(got, (dict, list)) or got is None or secret
        else f" (got {mask_secrets(str(got))[:60]!r})"
    )
    extra = err.error_count() - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return InvalidInput(f"{_prefix(where)}{key}: {message}{shown}{more}", details=out)


def dotted(path: Sequence[str | int]) -> str:
    """``["metrics", 0, "options"]`` → ``metrics[0].options``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _prefix(where: str | None) -> str:
    return f"{where}: " if where else ""


def _path(
    loc: Sequence[str | int], model: type[BaseModel] | None
) -> tuple[list[str | int], type[BaseModel] | None]:
    """The user's key path in a Pydantic location, and the model the last key belongs to."""
    path: list[str | int] = []
    current: list[type[BaseModel]] = [model] if model is not None else []
    parent: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            path.append(part)
            continue
        owners = [m for m in current if part in m.model_fields]
        if owners:
            parent = owners[0]
            path.append(part)
            current = _models_in(owners[0].model_fields[part].annotation)
            continue
        named = [m for m in current if m.__name__ == part]
        if named:  # a union member's tag: the member it names is where the keys are
            current = named
            continue
        if part.startswith("function-") or "[" in part or part in _SCALAR_TAGS:
            continue
        if current:  # an unknown key of a known model
            parent = current[0]
        path.append(part)
        current = []
    return path, parent


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's annotation holds (``X | None``, ``list[X]``, ``dict[str, X]``, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is None:
        return []
    return [m for arg in get_args(annotation) for m in _models_in(arg)]
