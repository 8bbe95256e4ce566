"""/api/v1/keys: your API keys (admins: anyone's). The secret appears once, in the create response."""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.security import keys as service
from llmloop.security.schemas import NAME_PATTERN, ApiKey, ApiKeyCreate, ApiKeyCreated
from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount

router = APIRouter(prefix="/keys", tags=["keys"])


@mount(router, "keys.list")
def list_keys(
    ctx: CtxDep, user: str | None = Query(None, pattern=NAME_PATTERN), include_revoked: bool = False
) -> list[ApiKey]:
    return service.list_keys(ctx, user=user, include_revoked=include_revoked)


@mount(router, "keys.create")
def create_key(ctx: CtxDep, spec: ApiKeyCreate) -> ApiKeyCreated:
    return service.create_key(ctx, spec=spec)


@mount(router, "keys.revoke")
def revoke_key(ctx: CtxDep, key: str) -> ApiKey:
    return service.revoke_key(ctx, key=key)
