"""Roles and permissions, checked in the service layer so every interface obeys the same rules.

Roles are ranked; a permission names the least role that grants it. Actors carry a role
per project (``"*"`` for every project). The local single-user mode is an admin everywhere.
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
    "datasets:read": "viewer",
    "datasets:write": "member",
}


@dataclass(frozen=True)
class Actor:
    id: str
    kind: str = "user"  # user | service_account | api_key | local
    roles: dict[str, str] = field(default_factory=dict)

    def role_in(self, project: str) -> str | None:
        return self.roles.get(project) or self.roles.get("*")

    def can(self, permission: str, project: str) -> bool:
        needed = PERMISSIONS.get(permission)
        if needed is None:
            raise KeyError(f"unknown permission {permission!r}")
        role = self.role_in(project)
        return role is not None and RANK[role] >= RANK[needed]


LOCAL_ADMIN = Actor(id="local", kind="local", roles={"*": "admin"})


def require(actor: Actor, permission: str, project: str) -> None:
    if not actor.can(permission, project):
        raise PermissionDenied(f"{actor.id} may not {permission} in project {project!r}")
