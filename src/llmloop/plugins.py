"""The one place llmloop imports code by name: lazy attributes, lazy CLI commands, plugins, ``py:`` targets.

Everything else imports plainly, so mypy and the layer test (``tests/unit/test_layers.py``) see
every dependency between our own modules. Entry-point groups (``llmloop.metrics``,
``llmloop.engines``) are read with ``importlib.metadata`` where they are used; their targets are
loaded through ``EntryPoint.load`` or here.
"""

from __future__ import annotations

import importlib
from typing import Any


def load_attribute(module: str, attribute: str) -> Any:
    """``module.attribute`` (dotted attributes allowed), imported on first use."""
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def load_object(spec: str) -> Any:
    """A ``package.module:attribute`` spec, as entry points write them."""
    module, _, attribute = spec.partition(":")
    if not module or not attribute:
        raise ValueError(f"{spec!r}: expected package.module:attribute")
    return load_attribute(module, attribute)
