"""The route table is the only source of /api/v1: every mounted route is in it, every entry is mounted once,
and every entry is called through both clients by a parity test."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from llmloop.client.table import table
from llmloop.server.app import create_app
from llmloop.server.auth import api_routes

HERE = Path(__file__).resolve().parent
UNMOUNTED_BY_DESIGN = {"/api/v1/health"}  # liveness, outside any noun


def _api_routes() -> list[Any]:
    return [r for r in api_routes(create_app()) if r.path.startswith("/api/v1")]


def test_every_mounted_route_is_a_table_entry_with_its_method_and_path() -> None:
    entries = table()
    seen: dict[str, int] = {}
    strays = []
    for r in _api_routes():
        if r.path in UNMOUNTED_BY_DESIGN:
            continue
        entry = entries.get(r.name)
        if entry is None:
            strays.append(f"{sorted(r.methods)} {r.path} ({r.name})")
            continue
        assert r.path == "/api/v1" + entry.path and r.methods == {entry.method}, r.name
        seen[r.name] = seen.get(r.name, 0) + 1
    assert strays == [], "routes mounted outside the table"
    assert {n for n, k in seen.items() if k != 1} == set()
    assert set(entries) - set(seen) == set(), "table entries no router mounts"


def test_every_table_entry_is_covered_by_a_parity_test() -> None:
    covered: set[str] = set()
    for path in sorted(HERE.glob("test_parity_*.py")):
        module = importlib.import_module(f"tests.integration.client.{path.stem}")
        covered |= set(module.COVERED)
    assert covered - set(table()) == set(), "COVERED names a route the table lacks"
    assert set(table()) - covered == set(), "routes no parity test calls through both clients"
