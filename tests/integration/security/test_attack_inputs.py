"""Known attack strings in every string input of every operation, on SQLite and PostgreSQL.

The OpenAPI schema names the inputs: each path parameter, each string query parameter and
each string (or list/map of strings) field of a JSON body gets every payload in turn, as
the admin. Each answer must be a 2xx/4xx envelope that neither evaluated the payload nor
leaked internals, and afterwards the store must be intact (tables there, keys unchanged,
nothing written outside the artifact root).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import add_key, add_user
from sqlalchemy import text

from llmloop.context import Context
from llmloop.server.app import create_app
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import RunCreate

PAYLOADS = {
    "path traversal": [
        "../../../../etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "/etc/passwd",
        "..\\..\\windows\\win.ini",
        "a/../../b",
        "file.txt\x00.png",
    ],
    "sql injection": [
        "' OR '1'='1",
        "1; DROP TABLE runs; --",
        '" OR ""="',
        "') UNION SELECT secret_hash, prefix FROM api_keys --",
        "%' --",
    ],
    # evaluated, each would print "ababab"
    "template injection": [
        "{{'ab'*3}}",
        "${'ab'.repeat(3)}",
        "<%= 'ab'*3 %>",
        "#{'ab'*3}",
        "{% print('ab'*3) %}",
    ],
    "other": [
        "<script>alert(1)</script>",
        "a\r\nSet-Cookie: injected=1",
        "%s%s%s%n",
        '{"$ne": null}',
        "*)(uid=*))(|(uid=*",
        "\u202egnp.exe",
        "A" * 5000,
    ],
}
LEAKS = ("Traceback", "sqlalchemy", "psycopg", "sqlite3.", "root:x:0:0", "ababab", "[fonts]", "[SQL:")


def _resolve(schema: dict[str, Any], node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):  # `additionalProperties: true`
        return {}
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _kind(schema: dict[str, Any], node: dict[str, Any]) -> str | None:
    node = _resolve(schema, node)
    for option in node.get("anyOf", [node]):
        option = _resolve(schema, option)
        t = option.get("type")
        if t == "string":
            return "str"
        if t == "array" and _resolve(schema, option.get("items", {})).get("type") == "string":
            return "list"
        if (
            t == "object"
            and _resolve(schema, option.get("additionalProperties") or {}).get("type") == "string"
        ):
            return "map"
    return None


def _minimal(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    node = _resolve(schema, node)
    if "anyOf" in node:
        return _minimal(schema, node["anyOf"][0])
    if "enum" in node:
        return node["enum"][0]
    t = node.get("type")
    if t == "object":
        return {
            k: _minimal(schema, v)
            for k, v in node.get("properties", {}).items()
            if k in node.get("required", [])
        }
    return {"string": "x1", "integer": 1, "number": 1.0, "boolean": False, "array": []}.get(str(t))


def _slots(schema: dict[str, Any], op: dict[str, Any]) -> tuple[list[str], list[str], dict[str, str], Any]:
    path = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
    query = [
        p["name"]
        for p in op.get("parameters", [])
        if p["in"] == "query" and _kind(schema, p["schema"]) == "str"
    ]
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    fields: dict[str, str] = {}
    base = None
    if body_schema is not None:
        resolved = _resolve(schema, body_schema)
        base = _minimal(schema, resolved)
        for name, prop in resolved.get("properties", {}).items():
            kind = _kind(schema, prop)
            if kind:
                fields[name] = kind
    return path, query, fields, base


@pytest.mark.slow  # ~40-80 s a backend: every payload into every string input of every route
def test_attack_strings_in_every_string_input(ctx: Context, master_key: str, tmp_path: Path) -> None:
    add_user(ctx, "root", {"*": "admin"})
    key = add_key(ctx, "root")
    run = service.create_run(ctx, spec=RunCreate(project="p")).id
    app = create_app(ctx)
    schema = app.openapi()
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    with ctx.db.connect() as conn:
        keys_before = conn.execute(text("SELECT prefix, secret_hash FROM api_keys ORDER BY prefix")).all()
    defaults = {"run_id": run, "project": "p", "key": "loss", "name": "a.txt"}
    payloads = [(family, p) for family, items in PAYLOADS.items() for p in items]
    problems: list[str] = []
    tried = 0
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            path_params, query_params, fields, base = _slots(schema, op)
            slots = [("path", n) for n in path_params] + [("query", n) for n in query_params]
            slots += [("body", n) for n in fields]
            for where, slot in slots:
                for family, payload in payloads:
                    url = path
                    for p in path_params:
                        value = payload if (where, slot) == ("path", p) else defaults.get(p, "x1")
                        raw = p in ("name", "key") and ":path}" in path and value == payload
                        url = url.replace(f"{{{p}}}", value if raw else quote(value, safe=""))
                        url = url.replace(f"{{{p}:path}}", value if raw else quote(value, safe=""))
                    kwargs: dict[str, Any] = {}
                    if where == "query":
                        kwargs["params"] = {slot: payload}
                    if base is not None:
                        body = dict(base)
                        if where == "body":
                            kind = fields[slot]
                            body[slot] = (
                                payload
                                if kind == "str"
                                else [payload]
                                if kind == "list"
                                else {payload[:200]: payload}
                            )
                        kwargs["json"] = body
                    try:
                        resp = client.request(method.upper(), url, **kwargs)
                    except (
                        Exception
                    ) as e:  # the client refusing to send (e.g. a raw NUL in a URL) is not a server fault
                        if "Invalid" not in type(e).__name__ and "invalid" not in str(e).lower():
                            problems.append(
                                f"{method} {path} {where}:{slot} {family} {payload[:40]!r}: client error {e!r}"
                            )
                        continue
                    tried += 1
                    body_text = resp.text
                    if resp.status_code >= 500:
                        problems.append(
                            f"{method} {path} {where}:{slot} {family} {payload[:40]!r} -> {resp.status_code}"
                        )
                    elif any(leak in body_text for leak in LEAKS):
                        problems.append(
                            f"{method} {path} {where}:{slot} {family} {payload[:40]!r} leaked: {body_text[:160]}"
                        )
                    elif "injected" in resp.headers.get("set-cookie", ""):
                        problems.append(f"{method} {path} {where}:{slot}: header injection")
    assert tried >= 500, tried
    assert not problems, "\n".join(problems[:30])
    with ctx.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() >= 1  # no DROP TABLE happened
        keys_after = conn.execute(text("SELECT prefix, secret_hash FROM api_keys ORDER BY prefix")).all()
    assert {tuple(k) for k in keys_before} <= {tuple(k) for k in keys_after}
    root = Path(ctx.artifacts.root)
    assert {p.name for p in root.iterdir()} <= {"sha256", "tmp"}
    escaped = [p for p in root.parent.rglob("*passwd*")] + [p for p in root.parent.rglob("*win.ini*")]
    assert not escaped
