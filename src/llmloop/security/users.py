"""Users, service accounts and their project roles; every change is audited in its own transaction.

Managing identities needs ``users:write`` on ``*`` (a global admin). ``bootstrap_admin`` is
the one exception: it works only while no user exists, which is how ``llmloop admin init``
turns the local single-user store into an authenticated one.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.security import audit, keys
from llmloop.security.auth import hash_password
from llmloop.security.schemas import ApiKeyCreate, ApiKeyCreated, Role, RoleBinding, User, UserCreate
from llmloop.store.tables.base import now
from llmloop.store.tables.security import RoleBindingRow, SessionRow, UserRow

if TYPE_CHECKING:
    from llmloop.context import Context


def _to_user(session: Session, row: UserRow) -> User:
    bindings = session.scalars(
        select(RoleBindingRow).where(RoleBindingRow.user_id == row.id).order_by(RoleBindingRow.project)
    )
    return User(
        id=row.id,
        name=row.name,
        kind=row.kind,
        roles=[RoleBinding(project=b.project, role=b.role) for b in bindings],
        has_password=row.password_hash is not None,
        disabled=row.disabled_at is not None,
        created_at=row.created_at,
    )


def _user_row(session: Session, name: str) -> UserRow:
    row = session.scalar(select(UserRow).where(UserRow.name == name))
    if row is None:
        raise NotFound(f"user {name!r} not found", details={"user": name})
    return row


def _check_password(password: str) -> None:
    if len(password) < 8 or len(password) > 1024:
        raise InvalidInput("passwords need 8 to 1024 characters", details={"field": "password"})


def _insert_user(session: Session, ctx: Context, spec: UserCreate) -> UserRow:
    if spec.kind == "service_account" and spec.password is not None:
        raise InvalidInput(
            "service accounts log in with API keys, not passwords", details={"field": "password"}
        )
    if session.scalar(select(UserRow.id).where(UserRow.name == spec.name)) is not None:
        raise Conflict(f"user {spec.name!r} exists already", details={"user": spec.name})
    password = spec.password.get_secret_value() if spec.password is not None else None
    if password is not None:
        _check_password(password)
    row = UserRow(
        id=uuid.uuid4().hex,
        name=spec.name,
        kind=spec.kind,
        password_hash=hash_password(password) if password else None,
        created_by=ctx.actor.id,
    )
    session.add(row)
    session.flush()
    for b in {b.project: b for b in spec.roles}.values():
        session.add(RoleBindingRow(user_id=row.id, project=b.project, role=b.role))
    session.flush()
    roles = {b.project: b.role for b in spec.roles}
    audit.record(session, ctx, "users.create", f"user:{spec.name}", after={"kind": spec.kind, "roles": roles})
    return row


def create_user(ctx: Context, *, spec: UserCreate) -> User:
    ctx.require("users:write", "*")
    with ctx.db.session() as s:
        return _to_user(s, _insert_user(s, ctx, spec))


def list_users(ctx: Context) -> list[User]:
    ctx.require("users:read", "*")
    with ctx.db.session() as s:
        return [_to_user(s, r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]


def get_user(ctx: Context, *, name: str) -> User:
    ctx.require("users:read", "*")
    with ctx.db.session() as s:
        return _to_user(s, _user_row(s, name))


def grant_role(ctx: Context, *, user: str, project: str, role: Role) -> User:
    """Give ``user`` ``role`` in ``project`` (``*``: every project), replacing any role held there."""
    binding = RoleBinding(project=project, role=role)
    ctx.require("users:write", "*")
    with ctx.db.session() as s:
        row = _user_row(s, user)
        old = s.get(RoleBindingRow, (row.id, binding.project))
        before = {"role": old.role} if old else None
        if old is None:
            s.add(RoleBindingRow(user_id=row.id, project=binding.project, role=binding.role))
        else:
            old.role = binding.role
        s.flush()
        audit.record(
            s, ctx, "users.grant", f"user:{user}", before, {"role": binding.role}, project=binding.project
        )
        return _to_user(s, row)


def revoke_role(ctx: Context, *, user: str, project: str) -> User:
    ctx.require("users:write", "*")
    with ctx.db.session() as s:
        row = _user_row(s, user)
        old = s.get(RoleBindingRow, (row.id, project))
        if old is None:
            raise NotFound(f"user {user!r} has no role in project {project!r}", details={"project": project})
        before = {"role": old.role}
        s.delete(old)
        s.flush()
        audit.record(s, ctx, "users.revoke", f"user:{user}", before, None, project=project)
        return _to_user(s, row)


def set_password(ctx: Context, *, user: str, password: str) -> None:
    """Set a UI password: admins for anyone, a user for themselves."""
    if user != ctx.actor.id or ctx.actor.max_role is not None or ctx.actor.deployments is not None:
        ctx.require("users:write", "*")
    _check_password(password)
    with ctx.db.session() as s:
        row = _user_row(s, user)
        if row.kind == "service_account":
            raise InvalidInput("service accounts log in with API keys, not passwords")
        row.password_hash = hash_password(password)
        s.flush()
        audit.record(s, ctx, "users.password", f"user:{user}")


def disable_user(ctx: Context, *, user: str) -> User:
    """Lock a user out at once: their keys and sessions stop working (rows kept for the audit trail)."""
    ctx.require("users:write", "*")
    if user == ctx.actor.id:
        raise InvalidInput("you cannot disable yourself", details={"user": user})
    with ctx.db.session() as s:
        row = _user_row(s, user)
        if row.disabled_at is None:
            row.disabled_at = now()
            s.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            s.flush()
            audit.record(s, ctx, "users.disable", f"user:{user}", {"disabled": False}, {"disabled": True})
        return _to_user(s, row)


def bootstrap_admin(ctx: Context, *, name: str, password: str | None) -> tuple[User, ApiKeyCreated]:
    """The first admin and a key for it, in one transaction; refused once any user exists."""
    ctx.require("users:write", "*")
    spec = UserCreate(
        name=name,
        password=SecretStr(password) if password else None,
        roles=[RoleBinding(project="*", role="admin")],
    )
    with ctx.db.session() as s:
        if s.scalar(select(UserRow.id).limit(1)) is not None:
            raise Conflict(
                "llmloop is already initialised (users exist); ask an admin for a key or use `llmloop users`"
            )
        row = _insert_user(s, ctx, spec)
        created = keys.insert_key(s, ctx, row, ApiKeyCreate(name="admin init"))
        return _to_user(s, row), created
