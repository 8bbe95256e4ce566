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


def _with_path(search: str | None) -> Any:
    import contextlib
    import sys

    @contextlib.contextmanager
    def scope() -> Any:
        added = search is not None and search not in sys.path
        if added:
            sys.path.insert(0, str(search))
        try:
            yield
        finally:
            if added:
                sys.path.remove(str(search))

    return scope()


def module_source(spec: str, *, search: str | None = None) -> bytes | None:
    """The source bytes of the module a ``module:attribute`` spec names, found without running it.

    ``search`` (a pipeline file's folder) is looked in first, so a step's function may live
    beside the file that names it. None when there is no such module or it has no source file.
    """
    import importlib.util

    module = spec.partition(":")[0]
    with _with_path(search):
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
    if found is None or not found.origin or not found.has_location:
        return None
    try:
        with open(found.origin, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def load_object_from(spec: str, search: str | None) -> Any:
    """``load_object``, looking in ``search`` first (a step's function beside its pipeline file)."""
    with _with_path(search):
        return load_object(spec)
