"""Diffs between prompt versions: a canonical YAML rendering of each, compared line by line.

Multi-line templates are written as YAML block literals so a changed sentence shows up as
a changed line, not as one long escaped string.
"""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from llmloop.services.prompts.schemas import PromptVersion

FIELDS = ("description", "messages", "template", "variables", "params", "few_shot")


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)


def document(version: PromptVersion) -> dict[str, Any]:
    """The parts of a version that define it, in a fixed order (no ids, times or commit message)."""
    data = version.model_dump(mode="json", include=set(FIELDS), exclude_none=True)
    data["params"] = version.params.model_dump(mode="json", exclude_none=True)
    return {k: data[k] for k in FIELDS if k in data and data[k] not in ({}, "", None)}


def canonical_yaml(version: PromptVersion) -> str:
    return yaml.dump(document(version), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def diff_versions(a: PromptVersion, b: PromptVersion) -> tuple[list[str], str]:
    """Changed top-level fields and a unified diff from ``a`` to ``b``."""
    da, db = document(a), document(b)
    changed = [k for k in FIELDS if da.get(k) != db.get(k)]
    lines = difflib.unified_diff(
        canonical_yaml(a).splitlines(keepends=True),
        canonical_yaml(b).splitlines(keepends=True),
        fromfile=a.ref,
        tofile=b.ref,
    )
    return changed, "".join(lines)
