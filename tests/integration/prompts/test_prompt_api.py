"""/api/v1/prompts and the playground: the same service over HTTP, errors in the envelope."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import llmloop as ll
from llmloop.errors import NotFound
from llmloop.server.api.prompts import set_model_resolver
from llmloop.services.observe import semconv
from llmloop.services.observe import service as traces
from llmloop.services.registry import service as registry
from llmloop.services.tracking import service as tracking
from llmloop.store.lineage import edges_of

BODY = {
    "project": "travel",
    "name": "recommend",
    "messages": [
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": "Suggest a city for {{ traveller }}."},
    ],
    "variables": {"traveller": "string"},
    "params": {"model": "tiny-llama", "max_tokens": 5},
    "message": "v1",
}


def create(api: Any, **changes: Any) -> Any:
    return api.post("/api/v1/prompts", json={**BODY, **changes})


def test_registry_round_trip(api: Any) -> None:
    r = create(api)
    assert r.status_code == 201 and r.json()["version"] == 1
    create(api, params={"model": "tiny-llama", "max_tokens": 9}, message="longer")
    r = api.put(
        "/api/v1/prompts/recommend/aliases/production", params={"project": "travel"}, json={"version": 1}
    )
    assert r.status_code == 200 and r.json()["aliases"] == ["production"]

    got = api.get("/api/v1/prompts/recommend@production", params={"project": "travel"}).json()
    assert got["version"] == 1 and got["messages"] == BODY["messages"]
    listed = api.get("/api/v1/prompts", params={"project": "travel"}).json()["items"]
    assert [(p["name"], p["latest_version"], p["aliases"]) for p in listed] == [
        ("recommend", 2, {"production": 1})
    ]
    versions = api.get("/api/v1/prompts/recommend/versions", params={"project": "travel"}).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    diff = api.get(
        "/api/v1/prompts/recommend/diff", params={"project": "travel", "from": "production", "to": "2"}
    )
    assert diff.json()["changed"] == ["params"] and "+  max_tokens: 9" in diff.json()["diff"]

    r = api.post(
        "/api/v1/prompts/recommend@production/render",
        json={"project": "travel", "variables": {"traveller": "Ann"}},
    )
    assert r.status_code == 200
    assert r.json()["messages"][1] == {"role": "user", "content": "Suggest a city for Ann."}
    assert r.json()["params"] == {"model": "tiny-llama", "max_tokens": 5}
    assert (
        api.delete("/api/v1/prompts/recommend/aliases/production", params={"project": "travel"}).status_code
        == 204
    )


def test_errors_use_the_envelope_and_register_nothing(api: Any) -> None:
    create(api)
    bad = create(api, messages=[{"role": "user", "content": "Hi\n{{ traveller | }}"}])
    assert bad.status_code == 400
    err = bad.json()["error"]
    assert err["code"] == "invalid_input" and (err["details"]["line"], err["details"]["column"]) == (2, 16)
    escape = create(api, messages=[{"role": "user", "content": "{{ ''.__class__.__mro__ }}"}])
    assert escape.status_code == 400 and "not allowed" in escape.json()["error"]["message"]
    assert [
        v["version"]
        for v in api.get("/api/v1/prompts/recommend/versions", params={"project": "travel"}).json()["items"]
    ] == [1]

    missing = api.post("/api/v1/prompts/recommend/render", json={"project": "travel", "variables": {}})
    assert missing.status_code == 400 and missing.json()["error"]["details"] == {"variable": "traveller"}
    extra = api.post(
        "/api/v1/prompts/recommend/render",
        json={"project": "travel", "variables": {"traveller": "a", "x": 1}},
    )
    assert extra.status_code == 400 and "unexpected variable 'x'" in extra.json()["error"]["message"]
    assert api.get("/api/v1/prompts/nope", params={"project": "travel"}).status_code == 404
    assert create(api, params={"temperature": 9}).json()["error"]["code"] == "invalid_input"


def test_run_needs_a_model_and_runs_a_registered_one(api: Any, ctx: Any, tiny_llama_dir: Path) -> None:
    create(api, params={"max_tokens": 3})  # no default model
    body = {"project": "travel", "variables": {"traveller": "Ann"}}
    r = api.post("/api/v1/prompts/recommend/run", json=body)
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "model"
    r = api.post("/api/v1/prompts/recommend/run", json={**body, "model": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    registry.register_base(ctx, name="tiny", path=str(tiny_llama_dir), project="travel")
    r = api.post("/api/v1/prompts/recommend/run", json={**body, "model": "tiny"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "tiny" and isinstance(r.json()["output"], str)


def test_run_calls_the_model_traces_and_saves_a_run(
    api: Any, ctx: Any, tiny_chat: Callable[..., str]
) -> None:
    def resolve(model: str | None, project: str) -> Callable[..., str]:
        if model != "tiny-llama":
            raise NotFound(f"model {model!r} not found", details={"model": model})
        return tiny_chat

    set_model_resolver(api.app, resolve)
    v1 = create(api).json()
    r = api.post(
        "/api/v1/prompts/recommend/run",
        json={
            "project": "travel",
            "variables": {"traveller": "Ann"},
            "params": {"max_tokens": 4},
            "save_run": True,
        },
    )
    assert r.status_code == 200, r.text
    result = r.json()
    expected = tiny_chat(result["messages"], max_tokens=4)
    assert result["output"] == expected and result["model"] == "tiny-llama"
    assert result["params"] == {"max_tokens": 4} and result["latency_ms"] > 0

    ll.flush_traces()
    trace = traces.get_trace(ctx, trace_id=result["trace_id"])
    (sp,) = trace.spans
    assert (trace.project, trace.model, sp.name, sp.kind) == (
        "travel",
        "tiny-llama",
        "chat tiny-llama",
        "client",
    )
    assert sp.attributes[semconv.LLMLOOP_PROMPT] == "recommend@1"
    assert sp.attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 4

    run = tracking.get_run(ctx, run_id=result["run_id"])
    assert (run.kind, run.status, run.params["prompt"], run.params["max_tokens"]) == (
        "prompt",
        "finished",
        "recommend@1",
        "4",
    )
    assert run.tags["trace_id"] == result["trace_id"] and run.metrics["output_chars"] == len(expected)
    assert [a.path for a in run.artifacts] == ["prompt_run.json"]
    with ctx.db.session() as s:
        assert [(e.src_id, e.relation) for e in edges_of(s, "run", run.id)] == [(v1["id"], "input_to")]

    unknown = api.post(
        "/api/v1/prompts/recommend/run",
        json={"project": "travel", "variables": {"traveller": "A"}, "model": "gpt-9"},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["details"] == {"model": "gpt-9"}


@pytest.mark.parametrize(
    "path", ["/api/v1/prompts", "/api/v1/prompts/{ref}/render", "/api/v1/prompts/{ref}/run"]
)
def test_openapi_lists_the_routes(api: Any, path: str) -> None:
    spec = api.get("/api/v1/openapi.json").json()
    assert path in spec["paths"]
