"""The gateway under attack and under the official client's defaults.

A fuzz of every ``/v1`` body (deep nesting, lone surrogates, huge and non-finite numbers, wrong
types, non-object JSON, empty and huge bodies) must never answer 5xx and must answer errors in
OpenAI's shape, wherever they come from (the handler, the auth dependency, the size
middleware). Then the compatibility defects: base64 embeddings through the real ``openai``
client, ``null`` sampling parameters, ``/v1/models`` on a fresh store, ``/metrics`` closed in
authenticated mode; a non-streamed call whose client left is cancelled; deployments resolve in
the caller's project; a fallback that saved a request leaves an ``ok`` trace.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import free_port
from tests.fakes.server_thread import ServerThread
from tests.integration.gateway.conftest import deploy, flush_for

from llmloop.security import keys, users
from llmloop.security.schemas import ApiKeyCreate, RoleBinding, UserCreate
from llmloop.server.app import create_app
from llmloop.services.serve.gateway import Gateway
from llmloop.services.serve.settings import GatewaySettings

BODY_ENDPOINTS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/traces"]
MSGS = [{"role": "user", "content": "hi"}]
ATTACKS: dict[str, bytes] = {
    "deep array": b'{"model":"d","messages":' + b"[" * 2000 + b"]" * 2000 + b"}",
    "deep object": b'{"model":"d","x":' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}",
    "deep, unclosed": b"[" * 50_000,
    "lone high surrogate": b'{"model":"d","messages":[{"role":"user","content":"\\ud800"}]}',
    "lone low surrogate in an extra key": b'{"model":"d","messages":[{"role":"user","content":"x"}],"stop":"\\udc00"}',
    "surrogate in model": b'{"model":"\\ud800","input":"x","prompt":"x"}',
    "huge integer": b'{"model":"d","max_tokens":' + b"9" * 5000 + b"}",
    "big integer": b'{"model":"d","messages":[{"role":"user","content":"x"}],"max_tokens":'
    + b"9" * 400
    + b"}",
    "huge float": b'{"model":"d","messages":[{"role":"user","content":"x"}],"temperature":1e999}',
    "NaN": b'{"model":"d","messages":[{"role":"user","content":"x"}],"seed":NaN}',
    "Infinity in an extra key": b'{"model":"d","messages":[{"role":"user","content":"x"}],"x":-Infinity}',
    "array body": b"[1,2]",
    "string body": b'"hello"',
    "null body": b"null",
    "empty body": b"",
    "not JSON": b"{model: d}",
    "not UTF-8": b'{"model":"\xff\xfe"}',
    "wrong types": b'{"model":7,"messages":"hi","prompt":{},"input":true,"stream":"yes"}',
    "messages of wrong types": b'{"model":"d","messages":[1,null,"x",[]]}',
    "huge string": b'{"model":"d","messages":[{"role":"user","content":"' + b"a" * 3_000_000 + b'"}]}',
    "huge model name": b'{"model":"' + b"m" * 100_000 + b'","messages":[{"role":"user","content":"x"}]}',
    "negative max_tokens": b'{"model":"d","messages":[{"role":"user","content":"x"}],"max_tokens":-1}',
    "top_p zero": b'{"model":"d","messages":[{"role":"user","content":"x"}],"top_p":0}',
    "unknown encoding": b'{"model":"d","input":"x","encoding_format":"int8"}',
    "OTLP wrong shapes": b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":5,"spanId":[],"name":{}}]}]}]}',
    "OTLP null lists": b'{"resourceSpans":null}',
}

# refused by the one JSON reader, whatever the endpoint
REFUSED_AS_JSON = {
    *(n for n in ATTACKS if n.startswith(("deep", "lone", "surrogate", "NaN", "Infinity", "not"))),
    *("huge integer", "huge float", "array body", "string body", "null body", "empty body"),
}


def assert_openai_error(r: httpx.Response) -> None:
    """Status below 500; and an error in OpenAI's shape (traces also carry google.rpc.Status's)."""
    assert r.status_code < 500, r.text[:300]
    if r.status_code >= 400:
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"}, r.text[:300]
        assert isinstance(err["message"], str) and err["message"] and isinstance(err["type"], str)


@pytest.fixture
def echo_deployment(gw: Any, echo: tuple[str, Any]) -> str:
    deploy(gw, "d", {"targets": [{"model": "echo-1", "upstream": echo[0]}]})
    return "d"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_malformed_bodies_answer_openai_shaped_4xx(gw: Any, echo_deployment: str, name: str) -> None:
    for path in BODY_ENDPOINTS:
        r = gw.post(path, content=ATTACKS[name], headers={"content-type": "application/json"})
        assert_openai_error(r)
        if name in REFUSED_AS_JSON:
            assert r.status_code == 400, (path, r.text[:300])


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["model", "messages", "prompt", "input", "stream", "max_tokens", "temperature", "top_p", "user"]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(body=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), JSON, max_size=6))
def test_random_bodies_never_answer_5xx(gw: Any, echo_deployment: str, body: dict[str, Any]) -> None:
    body = {"model": "d", **body} if "model" not in body else body
    for path in BODY_ENDPOINTS[:3]:
        assert_openai_error(gw.post(path, json=body))


def _user_key(ctx: Any, name: str, roles: dict[str, str]) -> dict[str, str]:
    bindings = [RoleBinding(project=p, role=r) for p, r in roles.items()]  # type: ignore[arg-type]
    users.create_user(ctx, spec=UserCreate(name=name, roles=bindings))
    return {"Authorization": f"Bearer {keys.create_key(ctx, spec=ApiKeyCreate(user=name)).key}"}


def test_errors_before_the_handler_are_openai_shaped_too(
    gw: Any, echo_deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = gw.app.state.ctx
    viewer = _user_key(ctx, "vic", {ctx.settings.default_project: "viewer"})  # auth is on from now
    body = {"model": "d", "messages": MSGS}
    cases = {
        "no credentials": gw.post("/v1/chat/completions", json=body),
        "bad key": gw.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer nope"}),
        "not bearer": gw.post("/v1/embeddings", json=body, headers={"Authorization": "Basic eA=="}),
        "viewer may not invoke": gw.post("/v1/chat/completions", json=body, headers=viewer),
        "unknown path": gw.post("/v1/nothing", json=body, headers=viewer),
        "wrong method": gw.get("/v1/chat/completions", headers=viewer),
        "over the app's body limit": gw.post(
            "/v1/completions", content=b"x" * (64 * 1024 * 1024), headers=viewer
        ),
    }
    for why, r in cases.items():
        assert r.status_code >= 400, why
        assert_openai_error(r)
    assert [cases[w].status_code for w in ("no credentials", "bad key", "viewer may not invoke")] == [
        401,
        401,
        403,
    ]
    assert cases["over the app's body limit"].status_code == 413
    # /api/v1 keeps llmloop's envelope
    assert set(gw.get("/api/v1/deployments").json()["error"]) == {"code", "message", "details"}
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url="http://testserver/v1", api_key="x", http_client=gw, max_retries=0
        ).models.list()


def test_the_official_clients_default_embeddings_are_base64(gw: Any, echo_deployment: str, echo: Any) -> None:
    client = openai.OpenAI(base_url="http://testserver/v1", api_key="x", http_client=gw, max_retries=0)
    out = client.embeddings.create(model="d", input=["abc", "hello"])  # the client sends base64
    assert [d.embedding for d in out.data] == [[3.0, 1.0, 0.5], [5.0, 1.0, 0.5]]
    assert echo[1].requests[-1][1].get("encoding_format") in (None, "float")  # the target answered floats
    raw = gw.post("/v1/embeddings", json={"model": "d", "input": "ab", "encoding_format": "base64"})
    packed = base64.b64decode(raw.json()["data"][0]["embedding"])
    assert struct.unpack("<3f", packed) == (2.0, 1.0, 0.5)
    floats = gw.post("/v1/embeddings", json={"model": "d", "input": "ab", "encoding_format": "float"})
    assert floats.json()["data"][0]["embedding"] == [2.0, 1.0, 0.5]


def test_null_sampling_parameters_mean_the_default(gw: Any, echo_deployment: str, echo: Any) -> None:
    body = {"model": "d", "messages": MSGS, "temperature": None, "top_p": None, "max_tokens": None}
    r = gw.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    sent = echo[1].requests[-1][1]
    assert not {"temperature", "top_p", "max_tokens"} & set(sent)


def test_models_lists_the_packaged_model_on_a_fresh_store(gw: Any) -> None:
    from llmloop.services.registry.default import packaged_gguf

    packaged_gguf()  # installed with llmloop (its absence is an error, not a skip)
    ids = [m["id"] for m in gw.get("/v1/models").json()["data"]]
    assert "smollm2-135m-instruct" in ids
    assert gw.get("/v1/models/smollm2-135m-instruct").json()["id"] == "smollm2-135m-instruct"


def test_metrics_need_credentials_in_authenticated_mode(gw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = gw.app.state.ctx
    assert gw.get("/metrics").status_code == 200  # local mode: everyone is the local admin
    viewer = _user_key(ctx, "vic", {ctx.settings.default_project: "viewer"})
    assert gw.get("/metrics").status_code == 401
    assert gw.get("/metrics", headers=viewer).status_code == 200
    from fastapi.testclient import TestClient

    from llmloop.services.serve.settings import gateway_settings

    monkeypatch.setenv("LLMLOOP_GATEWAY_METRICS_PUBLIC", "true")
    gateway_settings.cache_clear()
    try:
        with TestClient(create_app(ctx)) as opened:
            assert opened.get("/metrics").status_code == 200
    finally:
        monkeypatch.delenv("LLMLOOP_GATEWAY_METRICS_PUBLIC")
        gateway_settings.cache_clear()


def test_a_client_that_leaves_a_non_streamed_call_frees_the_gateway(gw: Any, echo: tuple[str, Any]) -> None:
    """One slot, no queue: while a hanging call holds it, a second caller is refused (503); once the
    first client leaves, the call is cancelled and the next caller is served at once."""
    ctx = gw.app.state.ctx
    deploy(gw, "stuck", {"targets": [{"model": "hang", "upstream": echo[0]}], "timeout_s": 600})
    deploy(gw, "fine", {"targets": [{"model": "echo-1", "upstream": echo[0]}]})
    app = create_app(ctx)
    app.state.gateway = Gateway(ctx, settings=GatewaySettings(max_in_flight=1, max_queue=0))
    with ServerThread(app, free_port()) as srv:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{srv.url}/v1/chat/completions", json={"model": "stuck", "messages": MSGS}, timeout=1.0
            )
        deadline = time.time() + 5
        while True:
            r = httpx.post(f"{srv.url}/v1/chat/completions", json={"model": "fine", "messages": MSGS})
            if r.status_code == 200 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert r.status_code == 200, r.text
        assert app.state.gateway.admission.running == 0
    flush_for(ctx)
    traces = gw.get("/api/v1/traces", params={"status": "error"}).json()["items"]
    assert [t["model"] for t in traces] == ["stuck"]


def test_deployments_resolve_in_the_callers_project(gw: Any, echo: tuple[str, Any]) -> None:
    """Two projects, one deployment name: the header, a ``project/name`` model, or the caller's only
    project picks which; another project's deployment looks absent to a caller with no role there."""
    ctx = gw.app.state.ctx
    for project, model in (("alpha", "echo-a"), ("beta", "echo-b")):
        r = gw.post(
            "/api/v1/deployments",
            json={
                "name": "assistant",
                "project": project,
                "spec": {"targets": [{"model": model, "upstream": echo[0]}]},
            },
        )
        assert r.status_code == 201, r.text

    def served(model: str, headers: dict[str, str] | None = None) -> Any:
        r = gw.post("/v1/chat/completions", json={"model": model, "messages": MSGS}, headers=headers or {})
        return r.json()["model"] if r.status_code == 200 else r.status_code

    assert served("assistant", {"x-llmloop-project": "alpha"}) == "echo-a"
    assert served("assistant", {"x-llmloop-project": "beta"}) == "echo-b"
    assert served("beta/assistant") == "echo-b"
    assert served("alpha/assistant", {"x-llmloop-project": "beta"}) == "echo-a"
    assert served("assistant") == 404  # the default project has none
    assert (
        gw.post(
            "/v1/chat/completions",
            json={"model": "assistant", "messages": MSGS},
            headers={"x-llmloop-project": "../etc"},
        ).status_code
        == 400
    )
    ann = _user_key(ctx, "ann", {"beta": "member"})  # auth is on from here
    assert served("assistant", ann) == "echo-b"  # her only project
    assert served("alpha/assistant", ann) == 404  # no role in alpha: as if absent
    listed = gw.get("/v1/models", headers=ann).json()["data"]
    assert [(m["id"], m["owned_by"]) for m in listed if m["id"] == "assistant"] == [("assistant", "beta")]
    flush_for(ctx)
    admin = _user_key(ctx, "root", {"*": "admin"})
    beta = gw.get("/api/v1/traces", params={"project": "beta"}, headers=admin).json()["items"]
    # beta's deployment served three; ann's refused ask for alpha's stays in her project, not alpha's
    outcome = sorted((t["model"], t["status"]) for t in beta)
    assert outcome == [
        ("alpha/assistant", "error"),
        ("assistant", "ok"),
        ("assistant", "ok"),
        ("beta/assistant", "ok"),
    ]


def test_a_request_saved_by_a_fallback_is_an_ok_trace(gw: Any, echo: tuple[str, Any]) -> None:
    spec = {
        "targets": [{"model": "fail", "upstream": echo[0]}],
        "fallbacks": [{"model": "echo-1", "upstream": echo[0]}],
    }
    deploy(gw, "saved", spec)
    r = gw.post("/v1/chat/completions", json={"model": "saved", "messages": MSGS})
    assert r.status_code == 200, r.text
    flush_for(gw.app.state.ctx)
    trace = gw.get(f"/api/v1/traces/{r.headers['x-llmloop-trace-id']}").json()
    assert (trace["status"], trace["error_count"]) == ("ok", 1)
    failed = [s for s in trace["spans"] if s["status_code"] == "error"]
    assert [s["name"] for s in failed] == ["chat fail"]
    errors = gw.get("/api/v1/traces", params={"status": "error"}).json()["items"]
    assert trace["trace_id"] not in {t["trace_id"] for t in errors}


def test_json_depth_limit_allows_real_bodies(gw: Any, echo_deployment: str) -> None:
    """A tool with a nested JSON schema (a dozen levels) is an ordinary request, not an attack."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(12):
        schema = {"type": "object", "properties": {"x": schema}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    text = json.dumps({"model": "d", "messages": MSGS, "tools": tools, "note": '[[[[ {{{{ \\" ]]'})
    r = gw.post("/v1/chat/completions", content=text, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
