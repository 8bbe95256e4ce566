"""The Context every service receives: settings, database, artifact store and the acting identity.

Services never build these themselves, so tests, the CLI and the server each decide where
data lives and who is acting, and every permission check sees the same actor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from llmloop.config import Settings, get_settings
from llmloop.errors import NotFound
from llmloop.security import audit as _audit  # noqa: F401  (installs the commit-time audit guard)
from llmloop.security.rbac import LOCAL_ADMIN, Actor, require
from llmloop.store.artifacts import ArtifactStore
from llmloop.store.db import Database, get_database


@dataclass(frozen=True)
class Context:
    settings: Settings
    db: Database
    artifacts: ArtifactStore
    actor: Actor = LOCAL_ADMIN

    def require(self, permission: str, project: str, *, missing: NotFound | None = None) -> None:
        """``llmloop.security.rbac.require``: 404 without any role in ``project``, 403 without the permission."""
        require(self.actor, permission, project, missing=missing)

    def as_actor(self, actor: Actor) -> Context:
        return replace(self, actor=actor)


@functools.lru_cache(maxsize=8)
def _artifact_store(url: str) -> ArtifactStore:
    # reads plain and encrypted blobs alike; encrypts new ones when LLMLOOP_ENCRYPT_ARTIFACTS is set
    from llmloop.security.encrypted_artifacts import EncryptedArtifactStore

    return EncryptedArtifactStore(url)


def local_context(settings: Settings | None = None) -> Context:
    """The embedded store named by the settings, acting as the local single user."""
    settings = settings or get_settings()
    return Context(
        settings=settings,
        db=get_database(settings.resolved_database_url),
        artifacts=_artifact_store(settings.resolved_artifacts_url),
    )
