"""Roles, key scopes and the coarse route check."""

from __future__ import annotations

import pytest

from llmloop.errors import NotFound, PermissionDenied
from llmloop.security.auth import intersect_roles, scoped
from llmloop.security.rbac import LOCAL_ADMIN, PERMISSIONS, ROLES, Actor, require


def test_roles_are_ranked_per_project() -> None:
    a = Actor(id="a", roles={"p": "member", "*": "viewer"})
    assert a.can("runs:write", "p") and not a.can("runs:delete", "p")
    assert a.can("runs:read", "other") and not a.can("runs:write", "other")
    assert LOCAL_ADMIN.can("store:verify", "*")
    with pytest.raises(KeyError):
        a.can("runs:fly", "p")
    assert all(role in ROLES for role in PERMISSIONS.values())


def test_read_only_key_is_capped_at_viewer() -> None:
    owner = Actor(id="m", roles={"p": "maintainer"})
    ro = scoped(owner, ["api:read"], [])
    assert ro.can("runs:read", "p") and not ro.can("runs:write", "p")
    assert scoped(owner, ["api"], []) == owner


def test_gateway_key_may_only_invoke_its_deployments() -> None:
    gw = scoped(Actor(id="m", roles={"*": "admin"}), ["gateway"], ["chat"])
    assert not gw.can("runs:read", "p") and not gw.can_anywhere("runs:read")
    assert gw.can_anywhere("deployments:invoke")
    assert gw.can_invoke("chat", "p") and not gw.can_invoke("other", "p")
    assert Actor(id="m", roles={"p": "member"}).can_invoke("anything", "p")
    assert not Actor(id="v", roles={"p": "viewer"}).can_invoke("anything", "p")


def test_gateway_key_holds_no_more_than_its_owner_now() -> None:
    """A gateway key of someone who may not invoke (a viewer, an outsider) invokes nothing."""
    for roles in ({"p": "viewer"}, {"q": "member"}, {}):
        gw = scoped(Actor(id="v", roles=roles), ["gateway"], ["chat"])
        assert not gw.can_invoke("chat", "p")
        assert not gw.can_anywhere("deployments:invoke") or "q" in roles


def test_roles_intersect_per_project() -> None:
    assert intersect_roles({"p": "member"}, {"*": "admin"}) == {"p": "member"}
    assert intersect_roles({"*": "admin"}, {"p": "viewer"}) == {"p": "viewer"}
    assert intersect_roles({"p": "admin", "q": "member"}, {"q": "admin"}) == {"q": "member"}
    assert intersect_roles({"p": "admin"}, {}) == {}


def test_outsiders_get_not_found_members_get_denied() -> None:
    viewer = Actor(id="v", roles={"p": "viewer"})
    with pytest.raises(NotFound, match="run x not found"):
        require(viewer, "runs:read", "q", missing=NotFound("run x not found"))
    with pytest.raises(NotFound, match="project 'q' not found"):
        require(viewer, "runs:write", "q")
    with pytest.raises(PermissionDenied, match="v may not runs:write"):
        require(viewer, "runs:write", "p", missing=NotFound("run x not found"))
    with pytest.raises(PermissionDenied):  # "*" checks are never hidden
        require(viewer, "users:write", "*")
    gateway = scoped(viewer, ["gateway"], ["chat"])
    with pytest.raises(PermissionDenied):  # a role, but a gateway key holds no API permission
        require(gateway, "runs:read", "p")
