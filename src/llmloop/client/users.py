"""``client.users``: identities, their project roles and sign-in, in-process or over ``/api/v1``.

The sign-in routes live under ``/api/v1/auth`` (``users.login``, ``users.logout``, ``users.me``)
but belong to this noun: they are what a user does with their identity. ``login`` opens a UI
session (a remote client keeps its cookie); ``logout`` ends the session this client opened.
Failed logins are rate-limited by the server; a local client, which could read the store
anyway, is not.

Passwords cross the wire in clear exactly once, in the body of the request that sets or checks
them: pydantic masks ``SecretStr`` fields when it writes JSON, so the remote side builds those
bodies itself (``_with_secrets``) rather than sending the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, SecretStr

from llmloop.client.routes import Route
from llmloop.security.rbac import AUTHENTICATED, PUBLIC
from llmloop.security.schemas import (
    AdminInit,
    AdminInitResult,
    LoginRequest,
    LoginResult,
    Me,
    PasswordSet,
    Role,
    RoleGrant,
    User,
    UserCreate,
)

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route("users.list", "GET", "/users", "users:read", list[User]),
    Route("users.create", "POST", "/users", "users:write", User, UserCreate, status=201),
    Route(
        "users.bootstrap_admin",
        "POST",
        "/users/bootstrap",
        "users:write",
        AdminInitResult,
        AdminInit,
        status=201,
        summary="The first admin and its key; refused once any user exists.",
    ),
    Route("users.get", "GET", "/users/{name}", "users:read", User),
    Route("users.disable", "POST", "/users/{name}/disable", "users:write", User),
    Route("users.grant", "PUT", "/users/{name}/roles/{project}", "users:write", User, RoleGrant),
    Route("users.revoke", "DELETE", "/users/{name}/roles/{project}", "users:write", User),
    # anyone signed in may set their own password; another user's needs users:write (the service checks)
    Route(
        "users.set_password", "PUT", "/users/{name}/password", AUTHENTICATED, None, PasswordSet, status=204
    ),
    Route("users.login", "POST", "/auth/login", PUBLIC, LoginResult, LoginRequest),
    Route("users.logout", "POST", "/auth/logout", AUTHENTICATED, status=204),
    Route("users.me", "GET", "/auth/me", AUTHENTICATED, Me),
]


class Users(Protocol):
    def create_user(self, spec: UserCreate) -> User: ...
    def list_users(self) -> list[User]: ...
    def get_user(self, name: str) -> User: ...
    def grant_role(self, user: str, project: str, role: Role) -> User: ...
    def revoke_role(self, user: str, project: str) -> User: ...
    def disable_user(self, user: str) -> User: ...
    def set_password(self, user: str, password: str) -> None: ...
    def bootstrap_admin(self, name: str = "admin", password: str | None = None) -> AdminInitResult: ...
    def login(self, username: str, password: str) -> LoginResult: ...
    def logout(self) -> None: ...
    def me(self) -> Me: ...


class LocalUsers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._session: str | None = None  # the token of the session ``login`` opened

    def create_user(self, spec: UserCreate) -> User:
        from llmloop.security import users

        return users.create_user(self.ctx, spec=spec)

    def list_users(self) -> list[User]:
        from llmloop.security import users

        return users.list_users(self.ctx)

    def get_user(self, name: str) -> User:
        from llmloop.security import users

        return users.get_user(self.ctx, name=name)

    def grant_role(self, user: str, project: str, role: Role) -> User:
        from llmloop.security import users

        return users.grant_role(self.ctx, user=user, project=project, role=role)

    def revoke_role(self, user: str, project: str) -> User:
        from llmloop.security import users

        return users.revoke_role(self.ctx, user=user, project=project)

    def disable_user(self, user: str) -> User:
        from llmloop.security import users

        return users.disable_user(self.ctx, user=user)

    def set_password(self, user: str, password: str) -> None:
        from llmloop.security import users

        users.set_password(self.ctx, user=user, password=password)

    def bootstrap_admin(self, name: str = "admin", password: str | None = None) -> AdminInitResult:
        from llmloop.security import users

        user, key = users.bootstrap_admin(self.ctx, name=name, password=password)
        return AdminInitResult(user=user, key=key)

    def login(self, username: str, password: str) -> LoginResult:
        from llmloop.security import auth
        from llmloop.security.settings import security_settings

        session = auth.login(self.ctx.db, username, password, ttl_s=security_settings().session_ttl_s)
        self._session = session.token
        return LoginResult(user=session.user, csrf_token=session.csrf_token, expires_at=session.expires_at)

    def logout(self) -> None:
        from llmloop.security import auth

        if self._session is not None:
            auth.logout(self.ctx.db, self._session)
            self._session = None

    def me(self) -> Me:
        actor = self.ctx.actor
        return Me(id=actor.id, kind=actor.kind, roles=dict(actor.roles), via=actor.via)


def _with_secrets(model: BaseModel) -> dict[str, Any]:
    """``model`` as a JSON body, its top-level ``SecretStr`` fields in clear."""
    body = model.model_dump(mode="json")
    for field in type(model).model_fields:
        value = getattr(model, field)
        if isinstance(value, SecretStr):
            body[field] = value.get_secret_value()
    return body


class RemoteUsers:
    def __init__(self, http: Http) -> None:
        self.http = http

    def create_user(self, spec: UserCreate) -> User:
        user: User = self.http.call("users.create", body=_with_secrets(spec))
        return user

    def list_users(self) -> list[User]:
        items: list[User] = self.http.call("users.list")
        return items

    def get_user(self, name: str) -> User:
        user: User = self.http.call("users.get", path={"name": name})
        return user

    def grant_role(self, user: str, project: str, role: Role) -> User:
        body = {"role": role}
        found: User = self.http.call("users.grant", path={"name": user, "project": project}, body=body)
        return found

    def revoke_role(self, user: str, project: str) -> User:
        found: User = self.http.call("users.revoke", path={"name": user, "project": project})
        return found

    def disable_user(self, user: str) -> User:
        found: User = self.http.call("users.disable", path={"name": user})
        return found

    def set_password(self, user: str, password: str) -> None:
        self.http.call("users.set_password", path={"name": user}, body={"password": password})

    def bootstrap_admin(self, name: str = "admin", password: str | None = None) -> AdminInitResult:
        result: AdminInitResult = self.http.call(
            "users.bootstrap_admin", body={"name": name, "password": password}
        )
        return result

    def login(self, username: str, password: str) -> LoginResult:
        result: LoginResult = self.http.call("users.login", body={"username": username, "password": password})
        return result

    def logout(self) -> None:
        self.http.call("users.logout")

    def me(self) -> Me:
        me: Me = self.http.call("users.me")
        return me
