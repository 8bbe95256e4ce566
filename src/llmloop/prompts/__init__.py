"""The prompt registry: versioned chat/text templates, few-shot selection, chains and the playground.

``schemas`` is the contract; ``templating`` is the sandbox; ``render`` compiles versions;
``fewshot`` (with ``embeddings`` and ``vectors``) picks examples; ``service`` stores and
reads versions; ``playground`` runs a prompt on a model; ``chains`` composes steps.

This package is also ``ll.prompts``: a subpackage named ``prompts`` becomes the attribute
``llmloop.prompts`` as soon as anything imports it, so the SDK verbs (``create``, ``get``,
``list``, …, from ``llmloop.sdk.prompts``) and the chain building blocks are reachable here,
loaded on first use. Nothing in the service modules imports the SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

_SDK = ("create", "get", "list", "versions", "set_alias", "delete_alias", "diff")
_FORWARD = {
    "Prompt": "llmloop.sdk.prompts",
    **dict.fromkeys(
        ("Chain", "PromptStep", "FunctionStep", "json_output", "regex_output"), "llmloop.prompts.chains"
    ),
    "ParseFailed": "llmloop.prompts.chains",
}


def __getattr__(name: str) -> Any:
    if name in _SDK:
        return getattr(importlib.import_module("llmloop.sdk.prompts").api, name)
    if name in _FORWARD:
        return getattr(importlib.import_module(_FORWARD[name]), name)
    raise AttributeError(f"module 'llmloop.prompts' has no attribute {name!r}")
