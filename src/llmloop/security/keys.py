"""API keys: created (the secret returned once), listed (prefix only), revoked; all audited.

Anyone signed in may manage their own keys; another user's keys need ``keys:admin`` on
``*``, and to anyone else they do not exist (``NotFound``, no existence leak). A credential
that is itself limited (a read-only or gateway-only key) cannot mint keys, so a scope can
never be widened by creating a new key with it.

A key never carries more authority than the people behind it: a ``gateway`` key may name
only deployments that both its owner and its creator may invoke now (checked here, so a
viewer or an outsider is refused at once), and at every use its authority is recomputed from
its owner's *current* roles, capped by its creator's (``llmloop.security.auth.actor_for_key``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from llmloop.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from llmloop.refs import validate_name
from llmloop.security import audit
from llmloop.security.auth import actor_for, new_api_key
from llmloop.security.rbac import Actor
from llmloop.security.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.deployments import DeploymentRow
from llmloop.store.tables.security import ApiKeyRow, UserRow

if TYPE_CHECKING:
    from llmloop.context import Context


def _to_key(row: ApiKeyRow, user: str) -> ApiKey:
    return ApiKey(
        id=row.id,
        user=user,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        deployments=list(row.deployments),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _is_admin(ctx: Context) -> bool:
    return ctx.actor.can("keys:admin", "*")


def insert_key(session: Session, ctx: Context, owner: UserRow, spec: ApiKeyCreate) -> ApiKeyCreated:
    scopes = sorted(set(spec.scopes))
    if "gateway" in scopes and not spec.deployments:
        raise InvalidInput(
            "a gateway key must name the deployments it may call", details={"field": "deployments"}
        )
    if spec.deployments and "gateway" not in scopes:
        raise InvalidInput(
            "deployments only apply to keys with the 'gateway' scope", details={"field": "scopes"}
        )
    for d in spec.deployments:
        validate_name(d, what="deployment")
    owner_actor = actor_for(session, owner, via=ctx.actor.via)
    for d in sorted(set(spec.deployments)):
        _check_invocable(session, d, (owner_actor, ctx.actor))
    key, prefix, digest = new_api_key()
    t = now()
    row = ApiKeyRow(
        id=uuid.uuid4().hex,
        user_id=owner.id,
        name=spec.name,
        prefix=prefix,
        secret_hash=digest,
        scopes=scopes,
        deployments=sorted(set(spec.deployments)),
        created_at=t,
        expires_at=t + spec.expires_in_s if spec.expires_in_s else None,
        created_by=ctx.actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        ctx,
        "keys.create",
        f"key:{prefix}",
        after={
            "user": owner.name,
            "scopes": scopes,
            "deployments": row.deployments,
            "expires_at": row.expires_at,
        },
    )
    return ApiKeyCreated(**_to_key(row, owner.name).model_dump(), key=key)


def _check_invocable(session: Session, deployment: str, actors: tuple[Actor, ...]) -> None:
    """Refuse a deployment on a gateway key unless every actor may invoke it in some project.

    A deployment in a project where the actor has no role is reported absent (``NotFound``), as
    a truly absent one is; one the actor can see but not call is ``PermissionDenied``.
    """
    projects = list(
        session.scalars(
            select(ProjectRow.name)
            .join(DeploymentRow, DeploymentRow.project_id == ProjectRow.id)
            .where(DeploymentRow.name == deployment)
        )
    )
    for actor in actors:
        if any(actor.can_invoke(deployment, p) for p in projects):
            continue
        if not any(actor.role_in(p) for p in projects):
            raise NotFound(f"deployment {deployment!r} not found", details={"deployment": deployment})
        raise PermissionDenied(
            f"{actor.id} may not invoke deployment {deployment!r}, so no key of theirs may",
            details={"deployment": deployment},
        )


def create_key(ctx: Context, *, spec: ApiKeyCreate) -> ApiKeyCreated:
    if ctx.actor.max_role is not None or ctx.actor.deployments is not None:
        raise PermissionDenied("a read-only or gateway-only credential cannot create keys")
    owner_name = spec.user or ctx.actor.id
    if owner_name != ctx.actor.id:
        ctx.require("keys:admin", "*")
    with ctx.db.session() as s:
        owner = s.scalar(select(UserRow).where(UserRow.name == owner_name))
        if owner is None:
            if ctx.actor.kind == "local" and spec.user is None:
                raise InvalidInput("name the key's owner (--user NAME); the local mode is not a user")
            raise NotFound(f"user {owner_name!r} not found", details={"user": owner_name})
        if owner.disabled_at is not None:
            raise Conflict(f"user {owner_name!r} is disabled")
        return insert_key(s, ctx, owner, spec)


def list_keys(ctx: Context, *, user: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
    """Your keys, or (admins) one user's or everyone's; newest first."""
    if user is None and not _is_admin(ctx):
        user = ctx.actor.id
    if user is not None and user != ctx.actor.id and not _is_admin(ctx):
        raise NotFound(f"user {user!r} not found", details={"user": user})
    stmt = select(ApiKeyRow, UserRow.name).join(UserRow, UserRow.id == ApiKeyRow.user_id)
    if user is not None:
        stmt = stmt.where(UserRow.name == user)
    if not include_revoked:
        stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
    with ctx.db.session() as s:
        return [_to_key(r, n) for r, n in s.execute(stmt.order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id))]


def revoke_key(ctx: Context, *, key: str) -> ApiKey:
    """Revoke by id or visible prefix (``llk_ab12cd34``); revoking twice is a no-op."""
    ident = key[:12] if key.startswith("llk_") else key
    with ctx.db.session() as s:
        found = s.execute(
            select(ApiKeyRow, UserRow.name)
            .join(UserRow, UserRow.id == ApiKeyRow.user_id)
            .where(or_(ApiKeyRow.id == ident, ApiKeyRow.prefix == ident))
        ).first()
        if found is None or (found[1] != ctx.actor.id and not _is_admin(ctx)):
            raise NotFound(f"API key {ident!r} not found", details={"key": ident})
        row, owner = found
        if row.revoked_at is None:
            row.revoked_at = now()
            s.flush()
            audit.record(s, ctx, "keys.revoke", f"key:{row.prefix}", {"revoked": False}, {"revoked": True})
        return _to_key(row, owner)
