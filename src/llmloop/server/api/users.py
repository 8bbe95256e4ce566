"""/api/v1/users: identities and their project roles (global admins only), the first admin, passwords."""

from __future__ import annotations

from fastapi import APIRouter, Path

from llmloop.security import users as service
from llmloop.security.schemas import (
    NAME_PATTERN,
    PROJECT_PATTERN,
    AdminInit,
    AdminInitResult,
    PasswordSet,
    RoleGrant,
    User,
    UserCreate,
)
from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount

router = APIRouter(prefix="/users", tags=["users"])
UserName = Path(pattern=NAME_PATTERN)
ProjectName = Path(pattern=PROJECT_PATTERN)


@mount(router, "users.list")
def list_users(ctx: CtxDep) -> list[User]:
    return service.list_users(ctx)


@mount(router, "users.create")
def create_user(ctx: CtxDep, spec: UserCreate) -> User:
    return service.create_user(ctx, spec=spec)


@mount(router, "users.bootstrap_admin")
def bootstrap_admin(ctx: CtxDep, spec: AdminInit) -> AdminInitResult:
    """Works only while the store has no user, when every loopback caller is the local admin."""
    password = spec.password.get_secret_value() if spec.password is not None else None
    user, key = service.bootstrap_admin(ctx, name=spec.name, password=password)
    return AdminInitResult(user=user, key=key)


@mount(router, "users.get")
def get_user(ctx: CtxDep, name: str = UserName) -> User:
    return service.get_user(ctx, name=name)


@mount(router, "users.disable")
def disable_user(ctx: CtxDep, name: str = UserName) -> User:
    return service.disable_user(ctx, user=name)


@mount(router, "users.grant")
def grant_role(ctx: CtxDep, grant: RoleGrant, name: str = UserName, project: str = ProjectName) -> User:
    return service.grant_role(ctx, user=name, project=project, role=grant.role)


@mount(router, "users.revoke")
def revoke_role(ctx: CtxDep, name: str = UserName, project: str = ProjectName) -> User:
    return service.revoke_role(ctx, user=name, project=project)


@mount(router, "users.set_password")
def set_password(ctx: CtxDep, body: PasswordSet, name: str = UserName) -> None:
    service.set_password(ctx, user=name, password=body.password.get_secret_value())
