"""The cache key of a step, and the sentence that explains a hit or a miss.

key = sha256 of: the step's code version (the llmloop version, plus the source hash of a user's
function), its resolved config, and the content digest of every input. Ids never enter the key,
so identical data regenerated under a new dataset version is a hit, while one changed row is a
miss for that step and, through its new output digest, for everything downstream of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from llmloop import __version__
from llmloop.errors import InvalidInput
from llmloop.plugins import module_source


def code_version(kind: str, *, where: str, search: str | None = None) -> str:
    """``llmloop==X`` and, for a user's ``module:function``, the sha256 of its module's source.

    The module is found, not imported: its code runs only in the step's own process.
    """
    if ":" not in kind:
        return f"llmloop=={__version__}"
    source = module_source(kind, search=search)
    if source is None:
        raise InvalidInput(
            f"{where}: cannot find module {kind.partition(':')[0]!r} for step function {kind!r} "
            "(on the Python path or beside the pipeline file)",
            details={"key": where},
        )
    return f"llmloop=={__version__}+{kind}@{hashlib.sha256(source).hexdigest()[:16]}"


def key_parts(code: str, config: Mapping[str, Any], inputs: Mapping[str, str]) -> dict[str, Any]:
    return {"code": code, "config": dict(config), "inputs": dict(sorted(inputs.items()))}


def cache_key(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def explain_miss(now: Mapping[str, Any], before: Mapping[str, Any] | None) -> str:
    """Why ``now`` missed, against the last finished run of the same step (``before``)."""
    if before is None:
        return "miss: no finished run of this step with these inputs yet"
    reasons = []
    if now.get("code") != before.get("code"):
        reasons.append(f"code changed ({before.get('code')} -> {now.get('code')})")
    old, new = _flat(before.get("config", {})), _flat(now.get("config", {}))
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if changed:
        reasons.append("config changed: " + ", ".join(changed[:5]) + (" …" if len(changed) > 5 else ""))
    old_in, new_in = before.get("inputs", {}), now.get("inputs", {})
    for name in sorted(old_in.keys() | new_in.keys()):
        if old_in.get(name) != new_in.get(name):
            was, got = str(old_in.get(name, "none"))[:12], str(new_in.get(name, "none"))[:12]
            reasons.append(f"input {name} changed ({was} -> {got})")
    return "miss: " + ("; ".join(reasons) if reasons else "the earlier run's outputs are gone")
