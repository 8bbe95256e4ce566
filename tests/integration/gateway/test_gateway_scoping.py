"""Who may call what through ``/v1``: a gateway-only key invokes the deployments it names and nothing
else, other keys need ``deployments:invoke`` in the deployment's project, and a key revoked in this
process stops working on its very next request even though resolved credentials are cached."""

from __future__ import annotations

from typing import Any

from tests.integration.gateway.conftest import deploy

from llmloop.security import keys, users
from llmloop.security.schemas import ApiKeyCreate, RoleBinding, UserCreate


def _user(ctx: Any, name: str, project: str, role: str) -> None:
    users.create_user(ctx, spec=UserCreate(name=name, roles=[RoleBinding(project=project, role=role)]))  # type: ignore[arg-type]


def _key(ctx: Any, user: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.create_key(ctx, spec=ApiKeyCreate(user=user, **kw)).key}"}


def _ask(gw: Any, model: str, headers: dict[str, str]) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return gw.post("/v1/chat/completions", json=body, headers=headers)


def test_gateway_keys_invoke_only_what_they_may(gw: Any, echo: tuple[str, Any]) -> None:
    ctx = gw.app.state.ctx
    project = ctx.settings.default_project
    for name in ("chat", "other"):
        deploy(gw, name, {"targets": [{"model": "m", "upstream": echo[0]}]})
    _user(ctx, "ann", project, "member")
    _user(ctx, "vic", project, "viewer")
    _user(ctx, "bob", "elsewhere", "member")
    gateway_only = _key(ctx, "ann", scopes=["gateway"], deployments=["chat"])
    member, viewer, outsider = _key(ctx, "ann"), _key(ctx, "vic"), _key(ctx, "bob")

    assert _ask(gw, "chat", gateway_only).status_code == 200
    refused = _ask(gw, "other", gateway_only)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["type"] == "permission_error"
    assert "other" in refused.json()["error"]["message"]
    assert refused.headers["x-llmloop-trace-id"]
    assert _ask(gw, "some-registered-model", gateway_only).status_code == 403  # not a named deployment
    assert _ask(gw, "other", member).status_code == 200
    assert _ask(gw, "chat", viewer).status_code == 403
    # a member of another project asks in their own project, and finds nothing of the default's
    assert _ask(gw, "chat", outsider).status_code == 404
    assert _ask(gw, "default/chat", outsider).status_code == 404

    listed = gw.get("/v1/models", headers=gateway_only).json()["data"]
    assert [m["id"] for m in listed] == ["chat"]  # a gateway-only key: not the packaged model either
    assert gw.get("/v1/models/other", headers=gateway_only).status_code == 404
    assert sorted(m["id"] for m in gw.get("/v1/models", headers=member).json()["data"]) == [
        "chat",
        "other",
        "smollm2-135m-instruct",
    ]

    prefix = gateway_only["Authorization"].removeprefix("Bearer ")[:12]
    keys.revoke_key(ctx, key=prefix)
    assert _ask(gw, "chat", gateway_only).status_code == 401
