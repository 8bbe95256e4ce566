"""The layer picture of DESIGN.md, checked on the source: imports point down only, and only plainly.

    interfaces  cli/ server/ sdk/ examples/ (and the SDK names on ``llmloop``)
    client      client/
    services    services/*
    core        store/ security/ config errors refs context plugins validation processes
    adapters    engines/ executors/

Dynamic imports (``importlib.import_module``, ``__import__``) are allowed only in ``plugins.py``, so a
dependency hidden in a string cannot slip past the import checks below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "llmloop"
INTERFACES = {"cli", "server", "sdk", "examples"}
CLIENT = {"client"}
CORE = {"store", "security", "config", "errors", "refs", "context", "plugins", "validation", "processes"}
ADAPTERS = {"engines", "executors"}
SERVICES = {"services"}
PLUGIN_LOADER = Path("plugins.py")


def _layer(rel: Path) -> str:
    return rel.parts[0].removesuffix(".py")


def _imported_layers(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llmloop."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("llmloop."))
    return out


def _dynamic_imports(tree: ast.AST) -> list[int]:
    """Lines that import by name: ``importlib.import_module(...)``, ``import_module(...)``, ``__import__(...)``."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
        if name in {"import_module", "__import__"}:
            lines.append(node.lineno)
    return lines


def _offenders(source_files: dict[Path, str]) -> list[str]:
    """Every broken rule in ``{path relative to src/llmloop: source}``."""
    rules = {
        **dict.fromkeys(SERVICES, INTERFACES | CLIENT),
        **dict.fromkeys(CORE, INTERFACES | CLIENT | SERVICES | ADAPTERS),
        **dict.fromkeys(ADAPTERS, INTERFACES | CLIENT | SERVICES),
        **dict.fromkeys(CLIENT, INTERFACES),
    }
    offenders = []
    for rel, text in sorted(source_files.items()):
        tree = ast.parse(text)
        layer = _layer(rel)
        if not (layer == "store" and "migrations" in rel.parts):
            bad = _imported_layers(tree) & rules.get(layer, set())
            if bad:
                offenders.append(f"{rel} ({layer}) imports {sorted(bad)}")
        if rel != PLUGIN_LOADER:
            offenders.extend(f"{rel}:{line} imports by name (use a plain import, or llmloop.plugins)"
                             for line in _dynamic_imports(tree))  # fmt: skip
    return offenders


def _tree() -> dict[Path, str]:
    return {p.relative_to(SRC): p.read_text() for p in SRC.rglob("*.py")}


def test_imports_point_down_only_and_plainly() -> None:
    assert _offenders(_tree()) == []


@pytest.mark.parametrize(
    "planted",
    [
        'import importlib\nimportlib.import_module("llmloop.services.data.service")\n',
        'from importlib import import_module\nimport_module("llmloop.services.data.service")\n',
        '__import__("llmloop.services.registry.service")\n',
        "from llmloop.sdk import datasets\n",
        "from llmloop.client import get_client\n",
    ],
)
def test_a_planted_hidden_or_upward_import_in_train_is_caught(planted: str) -> None:
    files = _tree()
    files[Path("services/train/planted.py")] = planted
    assert any(o.startswith("services/train/planted.py") for o in _offenders(files))


def test_a_core_module_importing_a_service_is_caught() -> None:
    files = _tree()
    files[Path("store/planted.py")] = "from llmloop.services.tracking import service\n"
    assert _offenders(files) == ["store/planted.py (store) imports ['services']"]


def test_every_service_lives_under_services() -> None:
    top = {p.name for p in SRC.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert top <= INTERFACES | CLIENT | CORE | ADAPTERS | SERVICES, sorted(
        top - (INTERFACES | CLIENT | CORE | ADAPTERS | SERVICES)
    )


def test_no_sdk_name_shadows_a_subpackage() -> None:
    import llmloop

    modules = {
        p.name.removesuffix(".py")
        for p in SRC.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert sorted(set(llmloop.__all__) & modules) == []


def test_import_llmloop_pulls_no_heavy_libraries() -> None:
    import subprocess
    import sys

    code = "import sys, llmloop; heavy = {'torch','transformers','fastapi','sqlalchemy','pandas'} & set(sys.modules); print(sorted(heavy))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_surface_matches_lazy_table() -> None:
    import llmloop

    assert sorted(llmloop.__all__) == llmloop.__all__
    assert set(llmloop.__all__) == {*llmloop._LAZY, "__version__"}
    for name in llmloop.__all__:
        assert getattr(llmloop, name) is not None
