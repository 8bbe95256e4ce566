"""Roles and permissions, checked in the service layer so every interface obeys the same rules.

Roles are ranked; a permission names the least role that grants it. Actors carry a role
per project (``"*"`` for every project). The local single-user mode is an admin everywhere.

An API key acts with its owner's roles *as they are now* (looked up on every use),
optionally capped (``max_role``: a read-only key is a viewer wherever its owner is anything
more). A gateway-only key holds no permission at all except invoking the deployments it
names, and only where its owner may invoke deployments now: its authority is the
intersection of its scope and its owner's current roles, so a key never carries more than
the person behind it, and loses what they lose.

One denial rule for every service (``require``): a caller with no role at all in a project
is told the project's objects do not exist (``NotFound``, the same answer an absent object
gets), so another project's names and ids cannot be probed; a caller with some role there
who lacks the permission is told so (``PermissionDenied``). Checks on ``"*"`` (users, keys,
audit) are never hidden: the route exists for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmloop.errors import NotFound, PermissionDenied

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
    # pipelines: runs of step graphs, and the schedules that start them
    "pipelines:read": "viewer",
    "pipelines:write": "member",
    # monitoring: monitors, alert rules and their alerts, drift tests; a pass over the monitors;
    # triggers start pipelines (training, promotion behind gates), so defining or firing one ranks higher
    "monitors:read": "viewer",
    "monitors:write": "member",
    "monitors:run": "member",
    "triggers:write": "maintainer",
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

    def _role_grants(self, permission: str, project: str) -> bool:
        needed = PERMISSIONS.get(permission)
        if needed is None:
            raise KeyError(f"unknown permission {permission!r}")
        role = self.role_in(project)
        return role is not None and RANK[role] >= RANK[needed]

    def can(self, permission: str, project: str) -> bool:
        """The per-project check; a gateway-only key holds no API permission at all."""
        granted = self._role_grants(permission, project)
        return granted and self.deployments is None

    def can_anywhere(self, permission: str) -> bool:
        """Whether some project grants ``permission``: the coarse check made before a route runs."""
        if self.deployments is not None:
            return permission == "deployments:invoke" and any(
                self._role_grants(permission, project) for project in self.roles
            )
        return any(self.can(permission, project) for project in self.roles)

    def can_invoke(self, deployment: str, project: str) -> bool:
        """Gateway calls need the role; a gateway-only key also must name the deployment."""
        if self.deployments is not None and deployment not in self.deployments:
            return False
        return self._role_grants("deployments:invoke", project)


LOCAL_ADMIN = Actor(id="local", kind="local", roles={"*": "admin"})


def project_not_found(project: str) -> NotFound:
    """What an absent project answers; also what a project you have no role in answers."""
    return NotFound(f"project {project!r} not found", details={"project": project})


def require(actor: Actor, permission: str, project: str, *, missing: NotFound | None = None) -> None:
    """The one denial rule (module docstring): no role in ``project`` -> ``missing``, else 403.

    ``missing`` is what the caller would get if the object it named were absent (a run id, a
    trace id): pass it whenever the caller named an object rather than the project, so that
    the answer does not even reveal which project the object lives in. By default the project
    itself is reported absent.
    """
    if actor.can(permission, project):
        return
    if project != "*" and actor.role_in(project) is None:
        raise missing or project_not_found(project)
    raise PermissionDenied(f"{actor.id} may not {permission} in project {project!r}")
