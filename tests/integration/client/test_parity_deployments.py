"""Deployments through both clients: same JSON, same errors."""

from __future__ import annotations

from tests.integration.client.conftest import Pair

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec

COVERED = {
    "deployments.create",
    "deployments.list",
    "deployments.get",
    "deployments.revisions",
    "deployments.rollback",
    "deployments.status",
}


def _spec(model: str) -> DeploymentSpec:
    return DeploymentSpec.model_validate({"targets": [{"model": model}]})


def test_deployment_revisions_read_the_same(pair: Pair) -> None:
    first = pair.local.deployments.create_deployment(
        DeploymentCreate(name="bot", project="parity", spec=_spec("a@1"), message="first")
    )
    second = pair.remote.deployments.create_deployment(
        DeploymentCreate(name="bot", project="parity", spec=_spec("a@2"), message="second")
    )
    assert (first.revision, second.revision) == (1, 2)
    page = pair.same(lambda c: c.deployments.list_deployments("parity"))
    assert [(d["name"], d["revision"]) for d in page["items"]] == [("bot", 2)]
    old = pair.same(lambda c: c.deployments.get_deployment("bot", "parity", 1))
    assert old["spec"]["targets"][0]["model"] == "a@1"
    revisions = pair.same(lambda c: c.deployments.list_revisions("bot", "parity"))
    assert [d["revision"] for d in revisions] == [2, 1]
    back = [c.deployments.rollback_deployment("bot", "parity", 1) for c in (pair.local, pair.remote)]
    assert [(d.revision, d.spec.targets[0].model) for d in back] == [(3, "a@1"), (4, "a@1")]
    assert pair.same(lambda c: c.deployments.get_deployment("bot", "parity"))["revision"] == 4
    since = first.created_at
    status = pair.same(lambda c: c.deployments.deployment_status("bot", "parity", since))
    assert [(t["target"], t["requests"], t["p50_ms"]) for t in status["targets"]] == [("a@1", 0, None)]


def test_bad_deployment_input_raises_the_same_class(pair: Pair) -> None:
    assert pair.same_error(lambda c: c.deployments.get_deployment("missing", "parity")) is NotFound
    assert pair.same_error(lambda c: c.deployments.rollback_deployment("missing", "parity")) is NotFound
    assert pair.same_error(lambda c: c.deployments.deployment_status("missing", "parity")) is NotFound
    bad_name = DeploymentCreate(name="no spaces allowed", project="parity", spec=_spec("a@1"))
    assert pair.same_error(lambda c: c.deployments.create_deployment(bad_name)) is InvalidInput
    assert pair.same(lambda c: c.deployments.list_deployments("parity"))["items"][0]["revision"] >= 1
