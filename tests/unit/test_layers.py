"""Imports point down only: services and core never import interfaces (cli, server, sdk)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "llmloop"
INTERFACES = {"cli", "server", "sdk"}
CORE = {"store", "security", "config", "errors", "refs", "context"}


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llmloop."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("llmloop."))
    return out


def test_services_and_core_never_import_interfaces() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        top = rel.parts[0].removesuffix(".py")
        if top in INTERFACES or top in {"__init__", "__main__"}:
            continue
        bad = _imports(path) & INTERFACES
        if bad:
            offenders.append(f"{rel} imports {sorted(bad)}")
    assert not offenders, offenders


def test_core_never_imports_services() -> None:
    services = {
        p.name for p in SRC.iterdir() if p.is_dir() and p.name not in INTERFACES | CORE | {"__pycache__"}
    }
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0].removesuffix(".py") not in CORE:
            continue
        if rel.parts[0] == "store" and "migrations" in rel.parts:
            continue
        bad = _imports(path) & services
        if bad:
            offenders.append(f"{rel} imports {sorted(bad)}")
    assert not offenders, offenders


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
