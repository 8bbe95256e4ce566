"""Prompt files: a YAML or JSON mapping (messages or template, variables, params, few_shot) → ``PromptCreate``.

``llmloop prompts create -f FILE`` and ``ll.prompts.create_from_file(FILE)`` both read files
here, so a file means the same thing from either door. Every error is an ``InvalidInput``
naming the file, and the line (bad YAML/JSON) or the key (a field the schema refuses).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llmloop.errors import InvalidInput
from llmloop.services.prompts.schemas import PromptCreate
from llmloop.validation import format_validation_error


def read_mapping(path: str | Path, *, what: str = "a mapping with messages or template") -> dict[str, Any]:
    """The mapping a ``.json`` (JSON) or any other (YAML) file holds; ``what`` says what it should hold."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror}", details={"file": str(path)}) from e
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{path}: not UTF-8 text", details={"file": str(path)}) from e
    is_json = path.suffix == ".json"
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else getattr(e, "lineno", None)
        raise InvalidInput(
            f"{path}{f' line {line}' if line else ''}: not valid {'JSON' if is_json else 'YAML'}",
            details={"file": str(path), "line": line},
        ) from e
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected {what}", details={"file": str(path)})
    return data


def prompt_spec(
    data: dict[str, Any],
    *,
    name: str,
    project: str,
    declare: Iterable[str] = (),
    message: str | None = None,
    where: str,
) -> PromptCreate:
    """``PromptCreate`` from a file's mapping, with the caller's name, project and extra declarations.

    ``declare`` adds variables as ``NAME`` (a string) or ``NAME:TYPE``; ``message`` replaces the
    file's commit message when given. ``where`` (the file, or the flag the text came from) starts
    every error message.
    """
    data = dict(data)
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise InvalidInput(
            f"{where}: variables must be a mapping", details={"file": where, "key": "variables"}
        )
    variables = dict(variables)
    for item in declare:
        var, _, kind = item.partition(":")
        variables[var] = kind or "string"
    data.update(variables=variables, name=name, project=project)
    if message is not None:
        data["message"] = message
    try:
        return PromptCreate.model_validate(data)
    except ValidationError as e:
        raise format_validation_error(e, where=where, model=PromptCreate, details={"file": where}) from None


def spec_from_file(
    path: str | Path,
    *,
    name: str | None = None,
    project: str | None = None,
    default_project: str,
    declare: Iterable[str] = (),
    message: str | None = None,
) -> PromptCreate:
    """Read a prompt file. The name is ``name``, else the file's ``name`` key; the project is
    ``project``, else the file's ``project`` key, else ``default_project``."""
    data = read_mapping(path)
    name = name or data.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(
            f"{path}: no prompt name: give one, or put a 'name' key in the file", details={"file": str(path)}
        )
    chosen = project or data.get("project") or default_project
    return prompt_spec(data, name=name, project=chosen, declare=declare, message=message, where=str(path))
