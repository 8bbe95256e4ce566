"""Deployments on SQLite and PostgreSQL: immutable revisions, rollback as a new revision, permissions."""

from __future__ import annotations

from typing import Any

import pytest

from llmloop.errors import InvalidInput, NotFound, PermissionDenied
from llmloop.security.rbac import Actor
from llmloop.services.serve import service
from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec


def _create(ctx: Any, name: str, model: str) -> Any:
    spec = DeploymentSpec.model_validate({"targets": [{"model": model, "upstream": "http://127.0.0.1:1/v1"}]})
    return service.create_deployment(ctx, spec=DeploymentCreate(name=name, spec=spec, message=f"use {model}"))


def test_revisions_are_immutable_and_rollback_copies_an_older_one(ctx: Any) -> None:
    assert _create(ctx, "chat", "m1").revision == 1
    assert _create(ctx, "chat", "m2").revision == 2
    back = service.rollback_deployment(ctx, name="chat")
    assert (back.revision, back.spec.targets[0].model) == (3, "m1")
    assert back.message == "rollback to revision 1"
    old = service.get_deployment(ctx, name="chat", revision=2)
    assert (old.spec.targets[0].model, old.latest_revision) == ("m2", 3)
    revs = service.list_deployment_revisions(ctx, name="chat")
    assert [r.revision for r in revs] == [3, 2, 1]
    to2 = service.rollback_deployment(ctx, name="chat", to_revision=2)
    assert (to2.revision, to2.spec.targets[0].model) == (4, "m2")
    page = service.list_deployments(ctx)
    assert [(d.name, d.revision) for d in page.items] == [("chat", 4)]


def test_errors_name_what_is_missing(ctx: Any) -> None:
    with pytest.raises(NotFound, match="deployment 'nope'"):
        service.get_deployment(ctx, name="nope")
    _create(ctx, "one", "m")
    with pytest.raises(NotFound, match="no earlier revision"):
        service.rollback_deployment(ctx, name="one")
    with pytest.raises(NotFound, match="no revision 7"):
        service.get_deployment(ctx, name="one", revision=7)
    with pytest.raises(InvalidInput):
        _create(ctx, "bad name!", "m")


def test_viewer_reads_but_only_maintainer_writes(ctx: Any) -> None:
    _create(ctx, "chat", "m1")
    viewer = ctx.as_actor(Actor(id="v", roles={"*": "viewer"}))
    member = ctx.as_actor(Actor(id="m", roles={"*": "member"}))
    assert service.get_deployment(viewer, name="chat").revision == 1
    with pytest.raises(PermissionDenied):
        _create(member, "chat", "m2")
    with pytest.raises(PermissionDenied):
        service.rollback_deployment(member, name="chat", to_revision=1)
    maint = ctx.as_actor(Actor(id="x", roles={"*": "maintainer"}))
    assert _create(maint, "chat", "m2").created_by == "x"
