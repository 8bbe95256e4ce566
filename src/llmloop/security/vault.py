"""Upstream secrets (e.g. an OpenAI key a deployment forwards to): stored encrypted, never read back out.

``set_secret`` / ``list_secrets`` / ``delete_secret`` are what the API and CLI offer; none of
them returns a value. ``use_secret`` is for server-side code that must forward the secret
upstream (``security.upstream``, for deployments and registered models): it checks that the
identity the forwarding acts for holds ``secrets:use`` where the secret lives; it is never
exposed by a route. Each value is AES-256-GCM under its
own data key, bound to its project and name (associated data), so a ciphertext copied onto
another row fails to decrypt.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmloop.errors import InvalidInput, NotFound
from llmloop.refs import validate_name
from llmloop.security import audit, crypto
from llmloop.security.rbac import Actor, require
from llmloop.security.schemas import SECRET_VALUE_MAX_CHARS, Secret
from llmloop.store.tables.base import now
from llmloop.store.tables.security import SecretRow

if TYPE_CHECKING:
    from llmloop.context import Context


def _aad(project: str, name: str) -> bytes:
    return f"llmloop-secret\x00{project}\x00{name}".encode()


def _check(project: str, name: str) -> None:
    if project != "*":
        validate_name(project, what="project")
    validate_name(name, what="secret")


def _row(session: Session, project: str, name: str) -> SecretRow:
    row = session.scalar(select(SecretRow).where(SecretRow.project == project, SecretRow.name == name))
    if row is None:
        raise NotFound(f"secret {name!r} not found in project {project!r}", details={"secret": name})
    return row


def set_secret(ctx: Context, *, project: str, name: str, value: str) -> Secret:
    _check(project, name)
    if not 1 <= len(value) <= SECRET_VALUE_MAX_CHARS:
        raise InvalidInput(
            f"a secret's value needs 1 to {SECRET_VALUE_MAX_CHARS} characters", details={"field": "value"}
        )
    ctx.require("secrets:write", project)
    wrapped, ciphertext = crypto.encrypt_value(value.encode(), aad=_aad(project, name))
    with ctx.db.session() as s:
        row = s.scalar(select(SecretRow).where(SecretRow.project == project, SecretRow.name == name))
        t = now()
        if row is None:
            row = SecretRow(
                id=uuid.uuid4().hex, project=project, name=name, created_at=t, created_by=ctx.actor.id
            )
            s.add(row)
        row.wrapped_key, row.ciphertext, row.updated_at = wrapped, ciphertext, t
        s.flush()
        audit.record(s, ctx, "secrets.set", f"secret:{name}", project=project)
        return Secret.model_validate(row)


def list_secrets(ctx: Context, *, project: str) -> list[Secret]:
    if project != "*":
        validate_name(project, what="project")
    ctx.require("secrets:read", project)
    with ctx.db.session() as s:
        rows = s.scalars(select(SecretRow).where(SecretRow.project == project).order_by(SecretRow.name))
        return [Secret.model_validate(r) for r in rows]


def delete_secret(ctx: Context, *, project: str, name: str) -> None:
    _check(project, name)
    ctx.require("secrets:write", project)
    with ctx.db.session() as s:
        s.delete(_row(s, project, name))
        s.flush()
        audit.record(s, ctx, "secrets.delete", f"secret:{name}", project=project)


def use_secret(ctx: Context, *, project: str, name: str, actor: Actor) -> str:
    """The clear value of secret ``name`` for forwarding on ``actor``'s behalf: never return it from a route or log it.

    A project's own secret wins over a global (``*``) one of the same name. ``actor`` needs
    ``secrets:use`` in ``project`` (checked first, so one without it cannot learn which names
    exist) and, for a global secret, on ``*``.
    """
    _check(project, name)
    require(actor, "secrets:use", project)
    with ctx.db.session() as s:
        row = s.scalar(
            select(SecretRow)
            .where(SecretRow.project.in_([project, "*"]), SecretRow.name == name)
            .order_by((SecretRow.project == "*").asc())
        )
        if row is None:
            raise NotFound(
                f"secret {name!r} not found in project {project!r} (nor a global one): "
                f"create it with `llmloop secrets set {name}`",
                details={"secret": name},
            )
        if row.project == "*":
            require(actor, "secrets:use", "*")
        return crypto.decrypt_value(row.wrapped_key, row.ciphertext, aad=_aad(row.project, name)).decode()


def rotate(ctx: Context, old: crypto.MasterKey, new: crypto.MasterKey) -> tuple[int, int]:
    """Re-wrap every secret's data key under ``new`` in one transaction: ``(rewrapped, already_current)``."""
    ctx.require("secrets:write", "*")
    done = current = 0
    with ctx.db.session() as s:
        for row in s.scalars(select(SecretRow)):
            if crypto.wrapped_key_id(row.wrapped_key) == new.key_id:
                current += 1
                continue
            row.wrapped_key = crypto.rewrap(old, new, row.wrapped_key)
            done += 1
        s.flush()
        audit.record(
            s, ctx, "keys.rotate_master", "master-key", after={"key_id": new.key_id.hex(), "secrets": done}
        )
    return done, current
