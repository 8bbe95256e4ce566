"""``client.keys``: API keys (your own; an admin's: anyone's), in-process or over ``/api/v1/keys``.

A key's secret is in the one answer that creates it (``ApiKeyCreated.key``) and nowhere after.
Rotating the master encryption key is not a verb here: it rewrites key material on the
machine that holds the store (``llmloop keys rotate-master`` runs there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.security.rbac import AUTHENTICATED
from llmloop.security.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

# anyone signed in manages their own keys; the service hides and guards everyone else's (keys:admin)
ROUTES = [
    Route("keys.list", "GET", "/keys", AUTHENTICATED, list[ApiKey]),
    Route("keys.create", "POST", "/keys", AUTHENTICATED, ApiKeyCreated, ApiKeyCreate, status=201),
    Route("keys.revoke", "DELETE", "/keys/{key}", AUTHENTICATED, ApiKey),
]


class Keys(Protocol):
    def create_key(self, spec: ApiKeyCreate) -> ApiKeyCreated: ...
    def list_keys(self, user: str | None = None, include_revoked: bool = False) -> list[ApiKey]: ...
    def revoke_key(self, key: str) -> ApiKey: ...


class LocalKeys:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create_key(self, spec: ApiKeyCreate) -> ApiKeyCreated:
        from llmloop.security import keys

        return keys.create_key(self.ctx, spec=spec)

    def list_keys(self, user: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
        from llmloop.security import keys

        return keys.list_keys(self.ctx, user=user, include_revoked=include_revoked)

    def revoke_key(self, key: str) -> ApiKey:
        from llmloop.security import keys

        return keys.revoke_key(self.ctx, key=key)


class RemoteKeys:
    def __init__(self, http: Http) -> None:
        self.http = http

    def create_key(self, spec: ApiKeyCreate) -> ApiKeyCreated:
        created: ApiKeyCreated = self.http.call("keys.create", body=spec)
        return created

    def list_keys(self, user: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
        query = {"user": user, "include_revoked": include_revoked}
        items: list[ApiKey] = self.http.call("keys.list", query=query)
        return items

    def revoke_key(self, key: str) -> ApiKey:
        revoked: ApiKey = self.http.call("keys.revoke", path={"key": key})
        return revoked
