"""Roles and permissions, checked in the service layer so every interface obeys the same rules.

Roles are ranked; a permission names the least role that grants it. Actors carry a role
per project (``"*"`` for every project). The local single-user mode is an admin everywhere.

An API key acts with its owner's roles, optionally capped (``max_role``: a read-only key
is a viewer wherever its owner is anything more). A gateway-only key has no roles at all
and may only invoke the deployments it names, so a leaked gateway key cannot read data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmloop.errors import PermissionDenied

ROLES = ("viewer", "member", "maintainer", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}

# permission -> least role that holds it
PERMISSIONS: dict[str, str] = {
    "runs:read": "viewer",
    "runs:write": "member",
    "runs:delete": "maintainer",
    "projects:read": "viewer",
    "projects:write": "maintainer",
    "artifacts:read": "viewer",
    "artifacts:write": "member",
    "store:verify": "admin",
    # security: identities, keys, audit, secrets, privacy (checked on "*" unless a project is named)
    "deployments:invoke": "member",
    "users:read": "admin",
    "users:write": "admin",
    "keys:admin": "admin",
    "audit:read": "admin",
    "secrets:read": "admin",
    "secrets:write": "admin",
    # forwarding a stored secret (or an operator-allowed env key) to an upstream: whoever may, may send it
    # to a URL of their choice, so it ranks above deployments:write
    "secrets:use": "admin",
    "privacy:admin": "admin",
    "prompts:read": "viewer",
    "prompts:write": "member",
    "traces:read": "viewer",
    "traces:write": "member",
    "evaluations:read": "viewer",
    "evaluations:write": "member",
    "deployments:read": "viewer",
    "deployments:write": "maintainer",
    "feedback:read": "viewer",
    "feedback:write": "member",
    # data: datasets and their versions
    "datasets:read": "viewer",
    "datasets:write": "member",
    # models: the registry (read, register versions, move aliases such as champion/production);
    # protecting an alias and forcing a protected one past its gates are admin-only, since
    # either lets an untested version reach the alias
    "models:read": "viewer",
    "models:write": "member",
    "models:promote": "maintainer",
    "models:protect": "admin",
    "models:force": "admin",
}

# Route declarations that are not permissions (see llmloop.server.auth):
PUBLIC = "public"  # anyone, no credentials needed (health, login)
AUTHENTICATED = "authenticated"  # any signed-in identity except a gateway-only key (own profile, own keys)


@dataclass(frozen=True)
class Actor:
    id: str
    kind: str = "user"  # user | service_account | local
    roles: dict[str, str] = field(default_factory=dict)
    max_role: str | None = None  # cap from the credential's scope (a read-only key)
    deployments: frozenset[str] | None = None  # set only for gateway-only keys
    via: str = "local"  # where the request came from, for the audit log

    def role_in(self, project: str) -> str | None:
        role = self.roles.get(project) or self.roles.get("*")
        if role is not None and self.max_role is not None and RANK[role] > RANK[self.max_role]:
            return self.max_role
        return role

    def can(self, permission: str, project: str) -> bool:
        needed = PERMISSIONS.get(permission)
        if needed is None:
            raise KeyError(f"unknown permission {permission!r}")
        role = self.role_in(project)
        return role is not None and RANK[role] >= RANK[needed]

    def can_anywhere(self, permission: str) -> bool:
        """Whether some project grants ``permission``: the coarse check made before a route runs."""
        if self.deployments is not None:
            return permission == "deployments:invoke"
        return any(self.can(permission, project) for project in self.roles)

    def can_invoke(self, deployment: str, project: str) -> bool:
        """Gateway calls: a gateway-only key names its deployments; others need the role."""
        if self.deployments is not None:
            return deployment in self.deployments
        return self.can("deployments:invoke", project)


LOCAL_ADMIN = Actor(id="local", kind="local", roles={"*": "admin"})


def require(actor: Actor, permission: str, project: str) -> None:
    if not actor.can(permission, project):
        raise PermissionDenied(f"{actor.id} may not {permission} in project {project!r}")


def require_or_hide(actor: Actor, permission: str, project: str, hidden: Exception) -> None:
    """Like ``require``, but an actor with no role at all in ``project`` gets ``hidden`` (a NotFound),
    so probing another project's names or ids cannot tell "exists" from "absent"."""
    if actor.role_in(project) is None:
        raise hidden
    require(actor, permission, project)
