"""Turning credentials into an ``Actor``: API keys, UI sessions, passwords.

Keys look like ``llk_<8 hex>_<43 urlsafe>``: the first 12 characters are the visible,
indexed prefix; the whole key is stored only as its sha256 (it carries 256 random bits, so
a slow hash would add nothing) and compared in constant time. Passwords are argon2id
(OWASP's minimum parameters: 19 MiB, 2 passes). A login for an unknown user still runs one
argon2 verification so response time does not reveal which names exist.

Auth is *enabled* once any user exists or ``LLMLOOP_AUTH_REQUIRED`` is set; before that
the local single-user mode acts as ``LOCAL_ADMIN`` (and ``llmloop serve`` refuses to bind
anything but loopback).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from llmloop.errors import PermissionDenied, Unauthenticated
from llmloop.security import audit
from llmloop.security.rbac import RANK, Actor
from llmloop.security.settings import SecuritySettings, security_settings
from llmloop.store.tables.base import now
from llmloop.store.tables.security import ApiKeyRow, RoleBindingRow, SessionRow, UserRow

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from llmloop.store.db import Database

KEY_PREFIX = "llk_"
KEY_RE = re.compile(r"^llk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
LAST_USED_EVERY_S = 60.0  # write last_used_at at most this often per key: no write on every request


_IDENTITY_ROWS = (UserRow, ApiKeyRow, RoleBindingRow)
_generation = 0


def identity_generation() -> int:
    """A number that changes whenever a user, key or role binding was committed in this process.

    The server caches resolved credentials for a moment (``server/auth.py``); a change made in
    this process (revoking a key, disabling a user) must take effect on the very next request.
    Changes made by another process are seen when the cache entry expires.
    """
    return _generation


@event.listens_for(Session, "after_flush")
def _note_identity_change(session: Session, _ctx: Any) -> None:
    if any(isinstance(o, _IDENTITY_ROWS) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info["identities_changed"] = True


@event.listens_for(Session, "after_commit")
def _bump_generation(session: Session) -> None:
    global _generation
    if session.info.pop("identities_changed", False):
        _generation += 1


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """``(key, prefix, hash)``: the key is shown once, the prefix and hash are stored."""
    prefix = f"{KEY_PREFIX}{secrets.token_hex(4)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, sha256_hex(key)


@functools.lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored or _dummy_hash(), password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def auth_enabled(db: Database, settings: SecuritySettings | None = None) -> bool:
    """True once any identity exists (or the setting demands it): from then on every call needs one."""
    if (settings or security_settings()).auth_required:
        return True
    with db.connect() as conn:
        return conn.execute(select(UserRow.id).limit(1)).first() is not None


def _roles(session: Session, user_id: str) -> dict[str, str]:
    return dict(
        session.execute(
            select(RoleBindingRow.project, RoleBindingRow.role).where(RoleBindingRow.user_id == user_id)
        ).all()
    )


def actor_for(session: Session, user: UserRow, *, via: str) -> Actor:
    return Actor(id=user.name, kind=user.kind, roles=_roles(session, user.id), via=via)


def actor_for_key(db: Database, key: str, *, via: str = "") -> Actor:
    """The identity behind a bearer key; ``Unauthenticated`` for anything not a live key."""
    if not KEY_RE.fullmatch(key):
        raise Unauthenticated("invalid API key")
    digest = sha256_hex(key)
    t = now()
    with db.session() as s:
        found = s.execute(
            select(ApiKeyRow, UserRow)
            .join(UserRow, UserRow.id == ApiKeyRow.user_id)
            .where(ApiKeyRow.prefix == key[:12])
        ).first()
        stored = found[0].secret_hash if found else sha256_hex("")
        if not hmac.compare_digest(digest, stored) or found is None:
            raise Unauthenticated("invalid API key")
        row, user = found
        if row.revoked_at is not None:
            raise Unauthenticated(f"API key {row.prefix}… was revoked")
        if row.expires_at is not None and row.expires_at <= t:
            raise Unauthenticated(f"API key {row.prefix}… has expired")
        if user.disabled_at is not None:
            raise Unauthenticated(f"user {user.name!r} is disabled")
        if row.last_used_at is None or t - row.last_used_at > LAST_USED_EVERY_S:
            s.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=t))
            audit.exempt(s, "a key's last-used time is bookkeeping, not a change anyone made")
        actor = actor_for(s, user, via=f"{via} key {row.prefix}".strip())
        if row.created_by not in (None, user.name, "local"):
            actor = replace(actor, roles=intersect_roles(actor.roles, _creator_roles(s, row.created_by)))
    return scoped(actor, row.scopes or ["api"], row.deployments or [])


def _creator_roles(session: Session, name: str) -> dict[str, str]:
    """The current roles of whoever minted a key for someone else; none once they are disabled or gone."""
    creator = session.scalar(select(UserRow).where(UserRow.name == name))
    if creator is None or creator.disabled_at is not None:
        return {}
    return _roles(session, creator.id)


def intersect_roles(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    """Per project, the lesser of two role maps (``"*"`` applies where a project is not named).

    A key minted by an admin for someone else acts with this of owner and creator, so it loses
    what its creator loses (a demoted or disabled admin's keys for others shrink with them).
    """
    out: dict[str, str] = {}
    for project in a.keys() | b.keys():
        ra, rb = a.get(project) or a.get("*"), b.get(project) or b.get("*")
        if ra is not None and rb is not None:
            out[project] = ra if RANK[ra] <= RANK[rb] else rb
    return out


def scoped(actor: Actor, scopes: list[str], deployments: list[str]) -> Actor:
    """Apply a key's scopes to its owner's identity."""
    if "api" in scopes:
        return actor
    if "api:read" in scopes:
        return replace(actor, max_role="viewer")
    # gateway only: no API permission; may invoke the named deployments where the roles allow it
    return replace(actor, deployments=frozenset(deployments))


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: float
    user: str


def login(db: Database, username: str, password: str, *, ttl_s: float) -> NewSession:
    """Check a password and open a UI session; one message for every failure (no user enumeration)."""
    with db.session() as s:
        user = s.scalar(select(UserRow).where(UserRow.name == username))
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled_at is not None:
            raise Unauthenticated("invalid username or password")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        t = now()
        s.execute(delete(SessionRow).where(SessionRow.expires_at < t))
        s.add(
            SessionRow(
                id=sha256_hex(token), user_id=user.id, csrf_hash=sha256_hex(csrf), expires_at=t + ttl_s
            )
        )
        return NewSession(token=token, csrf_token=csrf, expires_at=t + ttl_s, user=user.name)


def logout(db: Database, token: str) -> None:
    with db.session() as s:
        s.execute(delete(SessionRow).where(SessionRow.id == sha256_hex(token)))


def actor_for_session(
    db: Database, token: str, *, csrf: str | None, needs_csrf: bool, via: str = ""
) -> Actor:
    """The identity behind a session cookie; state-changing calls must echo the CSRF token."""
    with db.session() as s:
        found: Any = s.execute(
            select(SessionRow, UserRow)
            .join(UserRow, UserRow.id == SessionRow.user_id)
            .where(SessionRow.id == sha256_hex(token))
        ).first()
        if found is None or found[0].expires_at <= now() or found[1].disabled_at is not None:
            raise Unauthenticated("session expired or invalid; log in again")
        row, user = found
        if needs_csrf and not (csrf and hmac.compare_digest(sha256_hex(csrf), row.csrf_hash)):
            raise PermissionDenied("missing or wrong X-CSRF-Token for a cookie-authenticated request")
        return actor_for(s, user, via=f"{via} session".strip())
