"""Every UI page and action with hostile strings in each path and query parameter: never a 500, never a
leak, never the payload back unescaped (the /api/v1 routes get the same from test_attack_inputs)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from tests.integration.ui.seed import PROJECT, Loop

from llmloop.server.auth import api_routes

XSS = '<script>alert("ui")</script>'
PAYLOADS = [
    XSS,
    '"><img src=x onerror=alert(1)>',
    "../../../../etc/passwd",
    "' OR '1'='1",
    "{{ 7*7 }}{% raw %}",
    "\u202e\u0000nul",
    "x" * 5000,
]
LEAKS = ("Traceback", "sqlalchemy", "sqlite3.", "root:x:0:0", "[SQL:", "49{")


def _ui_routes(app: Any) -> list[Any]:
    return [r for r in api_routes(app) if str(r.name).startswith("ui.")]


def test_hostile_strings_in_every_ui_parameter(ui: TestClient, seeded: tuple[Any, Loop]) -> None:
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', ui.get("/", params={"project": PROJECT}).text)
    assert token is not None
    headers = {"x-csrf-token": token[1], "hx-request": "true"}
    payloads = PAYLOADS
    defaults = {"name": "m", "run_id": seeded[1].runs[0], "trace_id": seeded[1].traces[0]}
    problems: list[str] = []
    tried = 0
    for route in _ui_routes(ui.app):
        path_params = [p.name for p in route.dependant.path_params]
        query_params = [p.name for p in route.dependant.query_params]
        slots = [("path", n) for n in path_params] + [("query", n) for n in query_params]
        for where, slot in slots:
            for payload in payloads:
                url = route.path
                for p in path_params:
                    value = payload if (where, slot) == ("path", p) else defaults.get(p, "x1")
                    url = url.replace(f"{{{p}}}", quote(value, safe=""))
                params = {"project": PROJECT, **({slot: payload} if where == "query" else {})}
                try:
                    resp = ui.request(sorted(route.methods)[0], url, params=params, headers=headers)
                except Exception as e:  # the client refusing to send a raw NUL is not a server fault
                    if "invalid" not in str(e).lower():
                        problems.append(f"{route.path} {slot}: client error {e!r}")
                    continue
                tried += 1
                if resp.status_code >= 500:
                    problems.append(f"{route.path} {where}:{slot} {payload[:30]!r} -> {resp.status_code}")
                elif XSS in resp.text or any(leak in resp.text for leak in LEAKS):
                    problems.append(f"{route.path} {where}:{slot} {payload[:30]!r}: {resp.text[:120]}")
    assert tried >= 200, tried
    assert not problems, "\n".join(problems[:30])
