"""Protected aliases: the service runs the stored suite's gates on every move, whatever door asked.

Through REST (the in-process app) and the local client: a failing required gate is a 409 /
Conflict with the verdict and nothing moves; a passing one moves; force needs models:force (an
admin), and a forced move is audited and kept in the history as forced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.openai_server import serving
from tests.integration.registry.protected import PROJECT, SUITE, Seeded, champion, seed
from tests.integration.security.security_fixtures import add_key, add_user

from llmloop.client import LocalClient
from llmloop.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from llmloop.security.audit import list_events
from llmloop.services.registry import service
from llmloop.services.registry.schemas import AliasProtectionCreate

Q = {"project": PROJECT}


@pytest.fixture
def seeded(ctx: Any, tmp_path: Path) -> Iterator[Seeded]:
    with serving() as good, serving() as flaky:
        yield seed(ctx, tmp_path, good, flaky)


def _protect(ctx: Any, suite: str = SUITE) -> Any:
    return service.protect_alias(
        ctx,
        name="m",
        alias="champion",
        spec=AliasProtectionCreate(suite=suite, reason="release gate"),
        project=PROJECT,
    )


def test_rest_move_of_a_protected_alias_runs_its_gates(api: Any, ctx: Any, seeded: Seeded) -> None:
    put = api.put(
        "/api/v1/models/m/protections/champion", params=Q, json={"suite": SUITE, "reason": "release gate"}
    )
    assert put.status_code == 200 and put.json()["suite_name"] == "release"
    assert put.json()["baseline_alias"] == "champion"
    seeded.arm()
    refused = api.put("/api/v1/models/m/aliases/champion", params=Q, json={"version": "2"})
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "conflict" and error["details"]["protected"] is True
    (gate,) = error["details"]["gates"]
    verdict = gate["details"]
    assert not gate["passed"] and verdict["suite"] == "release"
    assert {r["rule"]: r["status"] for r in verdict["results"]}["error_rate <= 0"] == "fail"
    assert champion(ctx) == 1  # nothing moved
    assert [e.to_version for e in service.alias_history(ctx, name="m", project=PROJECT)] == [1]

    moved = api.put("/api/v1/models/m/aliases/champion", params=Q, json={"version": "3", "reason": "better"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["previous"] == 1 and moved.json()["gates"][0]["passed"] and not moved.json()["forced"]
    assert champion(ctx) == 3
    # an alias nobody protected still moves without gates
    free = api.put("/api/v1/models/m/aliases/staging", params=Q, json={"version": "2"})
    assert free.status_code == 200 and free.json()["gates"] == []


def test_local_client_is_gated_the_same(ctx: Any, seeded: Seeded) -> None:
    _protect(ctx)
    local = LocalClient(ctx=ctx)
    seeded.arm()
    with pytest.raises(Conflict, match=r"m@2 was not promoted to m@champion: eval suite release: failed"):
        local.models.promote("m@2", "champion", PROJECT)
    assert champion(ctx) == 1
    assert local.models.promote("m@3", "champion", PROJECT).previous == 1


def test_force_needs_models_force_and_is_audited_as_forced(api: Any, ctx: Any, seeded: Seeded) -> None:
    _protect(ctx)
    add_user(ctx, "mia", {PROJECT: "maintainer"})
    add_user(ctx, "root", {"*": "admin"})
    maintainer = {"Authorization": f"Bearer {add_key(ctx, 'mia')}"}
    admin = {"Authorization": f"Bearer {add_key(ctx, 'root')}"}
    seeded.arm()
    denied = api.put(
        "/api/v1/models/m/aliases/champion",
        params=Q,
        json={"version": "2", "force": True},
        headers=maintainer,
    )
    assert denied.status_code == 403 and "models:force" in denied.json()["error"]["message"]
    as_maintainer = LocalClient(ctx=ctx.as_actor(replace(ctx.actor, id="mia", roles={PROJECT: "maintainer"})))
    with pytest.raises(PermissionDenied, match="models:force"):
        as_maintainer.models.promote("m@2", "champion", PROJECT, force=True)
    with pytest.raises(PermissionDenied, match="models:protect"):
        as_maintainer.models.unprotect("m", "champion", PROJECT)
    assert champion(ctx) == 1

    forced = api.put(
        "/api/v1/models/m/aliases/champion",
        params=Q,
        json={"version": "2", "force": True, "reason": "hotfix"},
        headers=admin,
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["forced"] and forced.json()["gates"] == []
    assert seeded.flaky.faults.fail_times == 2  # no gate ran: the flaky server was never asked
    assert champion(ctx) == 2
    (event,) = list_events(ctx, action="models.promote", limit=1)
    assert event.actor == "root" and event.after == {
        "version": 2,
        "reason": "hotfix",
        "gates": {},
        "forced": True,
        "skipped_suite": "release",
    }
    assert service.alias_history(ctx, name="m", project=PROJECT, alias="champion")[0].forced


def test_protection_is_stored_content_checked_up_front(ctx: Any, seeded: Seeded, tmp_path: Path) -> None:
    file = tmp_path / "suite.yaml"
    file.write_text(SUITE)
    local = LocalClient(ctx=ctx)
    before = len(list_events(ctx, action="models.protect"))
    for bad, why in (
        (SUITE.replace("{ref: qa@1}", "{path: qa.jsonl}"), "dataset.path names a local file"),
        (SUITE.split("gates:")[0], "has no gates"),
        (SUITE.replace("error_rate <= 0", "error_rate =< 0"), "cannot read gate rule"),
        ("name: [", "not valid YAML"),
        (SUITE.replace("bootstrap:", "boostrap:"), "unknown key .boostrap.; did you mean .bootstrap"),
    ):
        with pytest.raises(InvalidInput, match=why):
            local.models.protect("m", "champion", AliasProtectionCreate(suite=bad), PROJECT)
    with pytest.raises(NotFound, match="model 'nope'"):
        local.models.protect("nope", "champion", AliasProtectionCreate(suite=SUITE), PROJECT)
    assert local.models.protections("m", PROJECT) == []
    assert len(list_events(ctx, action="models.protect")) == before

    import llmloop as ll

    stored = ll.models.protect("m", "champion", suite=file, project=PROJECT)
    file.write_text(SUITE.replace("exact_match >= 0.9", "exact_match >= 0"))  # later edits change nothing
    (listed,) = ll.models.protections("m", project=PROJECT)
    assert listed.suite == SUITE and listed.suite_sha256 == stored.suite_sha256
    seeded.arm()
    with pytest.raises(Conflict):
        ll.models.promote("m@2", "champion", project=PROJECT)
    with pytest.raises(InvalidInput, match="pass gates or force"):
        ll.models.promote("m@2", "champion", project=PROJECT, force=True, gates=[lambda c, v: None])
    ll.models.unprotect("m", "champion", project=PROJECT)
    assert [e.action for e in list_events(ctx, action="models.*", limit=2)] == [
        "models.unprotect",
        "models.protect",
    ]
    assert ll.models.promote("m@2", "champion", project=PROJECT).gates == []
    with pytest.raises(NotFound, match="not protected"):
        ll.models.unprotect("m", "champion", project=PROJECT)


def test_cli_exits_1_when_gates_refuse_a_move(cli: Any, ctx: Any, seeded: Seeded, tmp_path: Path) -> None:
    suite = tmp_path / "release.yaml"
    suite.write_text(SUITE)
    seeded.arm()
    gated = cli("models", "promote", "m@2", "champion", "--gate", str(suite), "-p", PROJECT)
    assert gated.exit_code == 1, gated.stderr
    assert (
        gated.stderr.startswith("error: m@2 was not promoted to m@champion") and gated.stderr.count("\n") == 1
    )
    protected = cli("models", "protect", "m", "champion", "--suite", str(suite), "-p", PROJECT)
    assert protected.exit_code == 0 and "protected by suite release" in protected.stdout
    (listed,) = json.loads(cli("models", "protections", "m", "-p", PROJECT, "--json").stdout)
    assert listed["suite"] == SUITE and listed["baseline_alias"] == "champion"
    seeded.arm()
    refused = cli("models", "promote", "m@2", "champion", "-p", PROJECT, "--json")
    assert refused.exit_code == 1 and json.loads(refused.stdout)["protected"] is True
    assert refused.stderr.startswith("error: m@2 was not promoted")
    assert champion(ctx) == 1
    forced = cli("models", "promote", "m@2", "champion", "--force", "--reason", "hotfix", "-p", PROJECT)
    assert forced.exit_code == 0 and "forced past its protection" in forced.stdout
    assert "FORCED" in cli("models", "history", "m", "-p", PROJECT).stdout
    assert cli("models", "unprotect", "m", "champion", "-p", PROJECT).exit_code == 0
    again = cli("models", "unprotect", "m", "champion", "-p", PROJECT)
    assert again.exit_code == 2 and again.stderr == "error: m@champion is not protected\n"
