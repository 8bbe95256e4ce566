"""Services training uses when they are installed: the datasets service, the models registry, the engines.

Training runs on local files with none of them; each seam (``data._rows_from_registry``,
``model_source._from_registry``, ``outputs.register_model_version``, ``teacher._engine_teacher``)
imports its service through here, lazily and by name, so the dependency is one visible line per
seam and an absent service is a clear ``Unavailable`` naming what to install or name instead.
"""

from __future__ import annotations

import importlib
from typing import Any

from llmloop.errors import Unavailable


def optional_module(name: str) -> Any | None:
    """The module, or None when its package is not part of this installation."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            return None
        raise  # the service is there but one of *its* imports is missing: show that


def require_module(name: str, *, needed_for: str, instead: str, key: str) -> Any:
    module = optional_module(name)
    if module is None:
        raise Unavailable(
            f"{key}: {needed_for} needs {name}, which is not installed here; {instead}",
            details={"key": key, "module": name},
        )
    return module
