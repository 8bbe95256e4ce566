"""/api/v1/keys: your API keys (admins: anyone's). The secret appears once, in the create response."""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.security import keys as service
from llmloop.security.rbac import AUTHENTICATED
from llmloop.security.schemas import NAME_PATTERN, ApiKey, ApiKeyCreate, ApiKeyCreated
from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep

router = APIRouter(prefix="/keys", tags=["keys"])


@router.get("", response_model=list[ApiKey], openapi_extra=permission(AUTHENTICATED))
def list_keys(
    ctx: CtxDep, user: str | None = Query(None, pattern=NAME_PATTERN), include_revoked: bool = False
) -> list[ApiKey]:
    return service.list_keys(ctx, user=user, include_revoked=include_revoked)


@router.post("", response_model=ApiKeyCreated, status_code=201, openapi_extra=permission(AUTHENTICATED))
def create_key(ctx: CtxDep, spec: ApiKeyCreate) -> ApiKeyCreated:
    return service.create_key(ctx, spec=spec)


@router.delete("/{key}", response_model=ApiKey, openapi_extra=permission(AUTHENTICATED))
def revoke_key(ctx: CtxDep, key: str) -> ApiKey:
    return service.revoke_key(ctx, key=key)
