"""What the server may send upstream, and with which key: the one door from a stored name to a credential.

A deployment target or a registered model served by an OpenAI-compatible upstream stores only
*names*, never a key: ``api_key_secret`` (a secret in the encrypted store, ``security.vault``)
or ``api_key_env`` (an environment variable, and only one the operator listed in
``LLMLOOP_UPSTREAM_ENV_ALLOW``: an API caller can never make the server send
``LLMLOOP_MASTER_KEY`` or any other variable of its process). Either way the identity the key
is forwarded for needs ``secrets:use`` in the project, since whoever may forward a key may send
it to a host of their choice:

- ``check_upstream`` runs when such a target is written (a deployment revision, a model
  version), for the identity writing it;
- ``upstream_key`` runs when one is served, for the identity that wrote it (the revision's or
  version's author, re-read from the store), so a key stops flowing when its author loses the
  permission, the operator drops the variable from the allow-list, or the secret is deleted.

URLs never carry credentials: a userinfo part (``user:password@``) or a credential-named query
parameter (``?api_key=``) is refused with a message saying to store the key as a secret. Refusing
(rather than moving the password into the vault silently) keeps one way in for credentials, with
its own permission check, and never turns a typo'd URL into a stored secret nobody named. An
operator may restrict destinations with ``LLMLOOP_UPSTREAM_URL_ALLOW`` (URL prefixes; default:
any http(s) URL). Loopback is allowed by default: a local vLLM or Ollama on 127.0.0.1 is the
common upstream, and pointing a deployment at this server itself discloses nothing (the key
sent is one its author may use anyway); an operator who wants to forbid it lists the allowed
prefixes.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select

from llmloop.config import Settings, is_sensitive_name, mask_secrets
from llmloop.errors import InvalidInput, LlmloopError, NotFound, PermissionDenied, Unavailable
from llmloop.refs import validate_name
from llmloop.security import vault
from llmloop.security.auth import actor_for, identity_generation
from llmloop.security.rbac import LOCAL_ADMIN, Actor, require
from llmloop.store.tables.security import UserRow

if TYPE_CHECKING:
    from llmloop.context import Context

KEY_TTL_S = 5.0  # how long a resolved key is reused before its author's permission is checked again
STORE_IT = "store the key with `llmloop secrets set NAME` and name it in api_key_secret"


def url_problem(settings: Settings, url: str) -> str | None:
    """Why ``url`` may not be an upstream (credentials in it, not http(s), not on the allow-list), else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    if "@" in parts.netloc:
        return f"may not carry credentials (user:password@); {STORE_IT}"
    if any(is_sensitive_name(k) for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return f"may not carry credentials in its query (?key=, ?token=...); {STORE_IT}"
    allowed = settings.upstream_url_allow
    if allowed and not any(_under(parts.scheme, parts.hostname, port, parts.path, a) for a in allowed):
        return "is not on the operator's list of allowed upstreams (LLMLOOP_UPSTREAM_URL_ALLOW)"
    return None


def _under(scheme: str, host: str, port: int | None, path: str, prefix: str) -> bool:
    """Whether a URL lies under an allowed prefix: same scheme, host and port, path at or below its path."""
    p = urlsplit(prefix)
    default = {"http": 80, "https": 443}
    try:
        p_port = p.port or default.get(p.scheme)
    except ValueError:
        return False
    if (p.scheme, (p.hostname or "").lower(), p_port) != (scheme, host.lower(), port or default[scheme]):
        return False
    base = p.path.rstrip("/")
    return not base or path.rstrip("/") == base or path.startswith(base + "/")


def check_upstream(
    ctx: Context, *, project: str, url: str, secret: str | None, env: str | None, where: str
) -> None:
    """Refuse, before anything is written, an upstream ``ctx.actor`` may not configure.

    ``where`` is the field path named in messages (``spec.targets[0]``). InvalidInput for a bad
    URL or key name, PermissionDenied without ``secrets:use``, NotFound-as-InvalidInput for a
    secret that does not exist.
    """
    problem = url_problem(ctx.settings, url)
    if problem is not None:
        raise InvalidInput(f"{where}.upstream {problem}", details={"field": f"{where}.upstream"})
    _check_names(ctx.settings, secret, env, where)
    if secret is not None:
        try:
            vault.use_secret(ctx, project=project, name=secret, actor=ctx.actor)
        except LlmloopError as e:
            if e.code != "not_found":
                raise
            raise InvalidInput(
                f"{where}.api_key_secret: {e.message}", details={"field": f"{where}.api_key_secret"}
            ) from None
    elif env is not None:
        require(ctx.actor, "secrets:use", project)


def _check_names(settings: Settings, secret: str | None, env: str | None, where: str) -> None:
    if secret is not None and env is not None:
        raise InvalidInput(
            f"{where}: name the upstream key once, as api_key_secret (or an operator-allowed api_key_env)",
            details={"field": f"{where}.api_key_env"},
        )
    if secret is not None:
        validate_name(secret, what="secret")
    if env is not None and env not in settings.upstream_env_allow:
        raise InvalidInput(
            f"{where}.api_key_env: the server forwards no environment variable as an upstream key unless "
            f"its operator lists it in LLMLOOP_UPSTREAM_ENV_ALLOW; {STORE_IT}",
            details={"field": f"{where}.api_key_env"},
        )


def upstream_key(
    ctx: Context, *, project: str, url: str, secret: str | None, env: str | None, owner: str | None
) -> UpstreamKey | None:
    """The key source for serving an upstream written by ``owner``; Unavailable when the URL is refused.

    None when no key is named. The permission and the key are checked when the source is called
    (each request, reusing an answer for ``KEY_TTL_S``), not here, so a server that loaded a
    target keeps obeying revocations.
    """
    problem = url_problem(ctx.settings, url)
    if problem is not None:
        raise Unavailable(f"upstream {mask_secrets(url)} {problem}", details={"upstream": mask_secrets(url)})
    if secret is None and env is None:
        return None
    return UpstreamKey(ctx, project=project, secret=secret, env=env, owner=owner)


class UpstreamKey:
    """Callable: the upstream key to send now, on behalf of the target's author; thread-safe.

    Every failure is ``Unavailable`` (so the gateway falls back to its next target) and names the
    secret or variable, never a value.
    """

    def __init__(
        self, ctx: Context, *, project: str, secret: str | None, env: str | None, owner: str | None
    ) -> None:
        self.ctx, self.project, self.secret, self.env, self.owner = ctx, project, secret, env, owner
        self._lock = threading.Lock()
        self._cached: tuple[float, int, str] | None = None

    def __call__(self) -> str:
        """The key; reused for ``KEY_TTL_S`` unless an identity changed in this process meanwhile."""
        with self._lock:
            c = self._cached
            if c is not None and time.monotonic() - c[0] < KEY_TTL_S and c[1] == identity_generation():
                return c[2]
            generation = identity_generation()
            key = self._resolve()
            self._cached = (time.monotonic(), generation, key)
            return key

    @property
    def identity(self) -> str:
        """What this source stands for (never the key): an engine's cache key includes it."""
        return f"{self.project}|{self.owner}|secret={self.secret}|env={self.env}"

    @property
    def what(self) -> str:
        return f"secret {self.secret!r}" if self.secret is not None else f"variable {self.env}"

    def _resolve(self) -> str:
        actor = author(self.ctx, self.owner)
        try:
            require(actor, "secrets:use", self.project)
        except (NotFound, PermissionDenied):
            # the author's standing, not the caller's: no existence to hide, name the permission
            raise Unavailable(
                f"the upstream key ({self.what}) is not usable: the deployment's author may not use "
                f"secrets (secrets:use) in project {self.project!r} any more",
                details={"project": self.project, "permission": "secrets:use"},
            ) from None
        try:
            if self.secret is not None:
                return vault.use_secret(self.ctx, project=self.project, name=self.secret, actor=actor)
            assert self.env is not None
            _check_names(self.ctx.settings, None, self.env, "upstream")
        except LlmloopError as e:
            raise Unavailable(
                f"the upstream key ({self.what}) is not usable: {e.message}",
                details={"project": self.project},
            ) from None
        value = os.environ.get(self.env)
        if not value:
            raise Unavailable(
                f"the upstream key variable {self.env} is not set in the server's environment",
                details={"env": self.env},
            )
        return value


def author(ctx: Context, owner: str | None) -> Actor:
    """The identity a stored target acts for: its author as the store knows them now (a disabled or
    deleted user has no role; ``local``, the single-user mode on this machine, is the local admin)."""
    if owner is None:
        return Actor(id="(unknown)")
    with ctx.db.session() as s:
        user = s.scalar(select(UserRow).where(UserRow.name == owner))
        if user is None:
            return LOCAL_ADMIN if owner == LOCAL_ADMIN.id else Actor(id=owner)
        if user.disabled_at is not None:
            return Actor(id=owner)
        return actor_for(s, user, via="upstream")
