"""The one place llmloop imports code by name: lazy attributes, lazy CLI commands, plugins, ``py:`` targets.

Everything else imports plainly, so mypy and the layer test (``tests/unit/test_layers.py``) see
every dependency between our own modules. Entry-point groups (``llmloop.metrics``,
``llmloop.engines``) are read with ``importlib.metadata`` where they are used; their targets are
loaded through ``EntryPoint.load`` or here.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
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


_on_path: dict[str, int] = {}  # folder -> blocks using it (the inline executor runs steps as threads)
_on_path_lock = threading.Lock()


@contextlib.contextmanager
def on_path(search: str | None) -> Iterator[None]:
    """``search`` first on ``sys.path`` for the block: a step's module beside its pipeline file, and
    whatever that module imports from there, including inside its functions while they run. Counted,
    so one thread's step ending does not take the folder away from another's still running."""
    if search is None:
        yield
        return
    folder = str(search)
    with _on_path_lock:
        if folder not in _on_path and folder not in sys.path:
            _on_path[folder] = 0
            sys.path.insert(0, folder)
        if folder in _on_path:
            _on_path[folder] += 1
    try:
        yield
    finally:
        with _on_path_lock:
            if folder in _on_path:
                _on_path[folder] -= 1
                if not _on_path[folder]:
                    del _on_path[folder]
                    if folder in sys.path:  # unless the step took it off itself
                        sys.path.remove(folder)


def module_source(spec: str, *, search: str | None = None) -> bytes | None:
    """The source bytes of the module a ``module:attribute`` spec names, and of the modules beside it
    that it imports at its top level (transitively), found without running any of them.

    So a step's cache key moves when a helper module next to it changes, not only its own file.
    Imports inside functions are not followed (they are how a module defers a heavy or optional
    dependency), nor modules outside the folder (installed packages change with their version).
    ``search`` (a pipeline file's folder) is looked in first, so a step's function may live
    beside the file that names it. None when there is no such module or it has no source file.
    """
    import importlib.util

    module = spec.partition(":")[0]
    with on_path(search):
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
    if found is None or not found.origin or not found.has_location:
        return None
    origin = Path(found.origin)
    package = module.rpartition(".")[0] if origin.name != "__init__.py" else module
    try:
        files = _beside(origin, package)
        return b"".join(b"# " + p.name.encode() + b"\n" + p.read_bytes() for p in files)
    except OSError:
        return None


def _beside(origin: Path, package: str) -> list[Path]:
    """``origin`` and the modules of its folder it imports at top level, transitively, sorted by name."""
    import ast

    seen: dict[str, Path] = {}
    todo = [origin]
    while todo:
        path = todo.pop()
        if path.name in seen:
            continue
        seen[path.name] = path
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for node in tree.body:  # top-level statements only
            for name in _imported(node, package):
                candidate = path.parent / f"{name}.py"
                if candidate.is_file() and candidate.name not in seen:
                    todo.append(candidate)
    return [seen[n] for n in sorted(seen)]


def _imported(node: Any, package: str) -> list[str]:
    """Names of sibling modules (in ``package``'s folder) that an import statement may load."""
    import ast

    prefix = f"{package}." if package else ""
    if isinstance(node, ast.Import):
        return [a.name[len(prefix) :] for a in node.names if a.name.startswith(prefix) and a.name != package]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level == 1 or (node.level == 0 and node.module == package and package):
        base = node.module if node.level == 1 and node.module else ""
        if base:
            return [base]
        return ["__init__", *(a.name for a in node.names)]  # the package's own names, or its modules
    if node.level == 0 and node.module and node.module.startswith(prefix):
        return [node.module[len(prefix) :]]
    return []
