"""Rows of the security area: identities, role bindings, API keys, UI sessions, the audit chain, secrets.

Secrets and key material are never stored in the clear: API keys and session tokens as
their sha256 (they are 256-bit random strings, so a plain hash is enough), passwords as
argon2id hashes, upstream secrets as AES-256-GCM ciphertext whose data key is wrapped by
the master key and stored in its own column, so rotating the master key rewrites only
that column.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base, now


class UserRow(Base):
    """A person (password for the UI, optional) or a service account (keys only)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="user")  # user | service_account
    password_hash: Mapped[str | None] = mapped_column(String(256))
    disabled_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class RoleBindingRow(Base):
    """``user`` holds ``role`` in ``project`` (a project name, or ``*`` for all, existing or future)."""

    __tablename__ = "role_bindings"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float, default=now)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    deployments: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    expires_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    last_used_at: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(128))


class SessionRow(Base):
    """A UI login: the cookie's token and its CSRF token, both stored as sha256."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, default=now)
    expires_at: Mapped[float] = mapped_column(Float)


class AuditEventRow(Base):
    """One audited mutation. ``hash`` covers every field but ``actor`` (which ``actor_digest`` binds
    instead, so a privacy erasure can blank the name without breaking the chain) and ``prev_hash``
    links to the row before: editing or deleting any row breaks the chain at that row."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_ts", "ts"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[float] = mapped_column(Float(precision=53))
    actor: Mapped[str] = mapped_column(String(128), index=True)
    actor_digest: Mapped[str] = mapped_column(String(64))
    actor_kind: Mapped[str] = mapped_column(String(32))
    via: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(256))
    project: Mapped[str | None] = mapped_column(String(128), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    salt: Mapped[str] = mapped_column(String(32))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's one head row: locked by every append (serialising writers) and the proof that
    no row was cut off the end."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class SecretRow(Base):
    """An upstream credential (e.g. an OpenAI key), encrypted; the API returns only its name."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("project", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    updated_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))
