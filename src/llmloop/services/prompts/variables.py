"""Declared, typed template variables: checked on every render, parsed from text for the CLI.

Checks are precomputed per prompt version (sets and one predicate per variable) because they
run on the render hot path; an error always names the variable. A variable the templates use
without a declaration is inferred as a required string (``infer_variables``); its description
says so, which is how a type error on it can tell the user to declare it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from llmloop.errors import InvalidInput
from llmloop.services.prompts.schemas import Variable, VarType

# accepted types per declared type; bool is an int in Python but never an integer or number here
TYPES: dict[VarType, tuple[type, ...] | None] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list, tuple),
    "object": (Mapping,),
    "any": None,
}
NO_BOOL = frozenset({"integer", "number"})
_STR = frozenset({str})

SAMPLES: dict[VarType, Any] = {
    "string": "x",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "list": ["x"],
    "object": {},
    "any": "x",
}


INFERRED = "Inferred from the template: not declared, so a required string."


def infer_variables(declared: Mapping[str, Variable], used: Iterable[str]) -> dict[str, Variable]:
    """The declared variables, then every name the templates use undeclared, as a required string."""
    out = dict(declared)
    for name in sorted(set(used) - set(declared)):
        out[name] = Variable(type="string", description=INFERRED)
    return out


class VariableChecker:
    """Validates the variables of one render against the declarations; fills defaults."""

    def __init__(self, declared: Mapping[str, Variable]) -> None:
        self.declared = dict(declared)
        self.names = frozenset(declared)
        self.required = frozenset(n for n, v in declared.items() if v.required)
        self.defaults = {n: v.default for n, v in declared.items() if not v.required}
        self.types = {n: TYPES[v.type] for n, v in declared.items()}
        self.only_strings = all(v.type == "string" for v in declared.values())
        self.no_bool = frozenset(n for n, v in declared.items() if v.type in NO_BOOL)

    def check(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The values to render with; a plain dict passed in may be returned as is (callers never mutate it)."""
        keys = given.keys()
        if keys != self.names:  # exactly the declared names is the common case: one comparison
            self._check_names(keys)
        if self.only_strings and set(map(type, given.values())) <= _STR:
            pass  # the common case, checked at C speed
        else:
            self._check_types(given)
        if self.defaults:
            return {**self.defaults, **given}
        return given if type(given) is dict else dict(given)

    def _check_names(self, keys: Iterable[str]) -> None:
        if not self.names.issuperset(keys):
            extra = sorted(set(keys) - self.names)[0]
            declared = ", ".join(sorted(self.names)) or "none"
            raise InvalidInput(
                f"unexpected variable {extra!r} (declared: {declared})", details={"variable": extra}
            )
        if not self.required.issubset(keys):
            missing = sorted(self.required - set(keys))[0]
            raise InvalidInput(f"missing variable {missing!r}", details={"variable": missing})

    def _check_types(self, given: Mapping[str, Any]) -> None:
        types = self.types
        for name, value in given.items():
            allowed = types[name]
            if allowed is not None and (
                not isinstance(value, allowed) or (type(value) is bool and name in self.no_bool)
            ):
                var = self.declared[name]
                hint = " (inferred: declare it in variables to give it another type)"
                raise InvalidInput(
                    f"variable {name!r} must be {var.type}, got {type(value).__name__}"
                    + (hint if var.description == INFERRED else ""),
                    details={"variable": name, "expected": var.type},
                )

    def samples(self) -> dict[str, Any]:
        """Plausible values for a trial render when a version is created."""
        return {
            n: (v.default if not v.required and v.default is not None else SAMPLES[v.type])
            for n, v in self.declared.items()
        }


def parse_text(name: str, var: Variable | None, text: str) -> Any:
    """A command-line value as the declared type (``--var age=3`` gives the integer 3)."""
    kind = var.type if var is not None else "string"
    try:
        if kind == "string":
            return text
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
        if kind == "boolean":
            lowered = text.lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return lowered in {"true", "1", "yes"}
        value = json.loads(text)
    except ValueError as e:
        raise InvalidInput(
            f"variable {name!r}: {text[:80]!r} is not a valid {kind}", details={"variable": name}
        ) from e
    return value
