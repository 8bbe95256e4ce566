"""Models through both clients: same JSON, same errors, and a protected alias gated the same either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fakes.openai_server import serving
from tests.integration.client.conftest import Pair
from tests.integration.registry.protected import PROJECT, SUITE, champion, seed

from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.services.registry.schemas import AliasProtectionCreate, GateResult, ModelVersionCreate

COVERED = {
    "models.list",
    "models.versions",
    "models.get",
    "models.register",
    "models.promote",
    "models.history",
    "models.lineage",
    "models.card",
    "models.protections",
    "models.protect",
    "models.unprotect",
}


def test_models_read_the_same_through_both_clients(pair: Pair) -> None:
    made = pair.both(
        lambda c: c.models.register_version(
            ModelVersionCreate(project="pm", name="hub", base="org/parity", description=f"remote={c.remote}")
        )
    )
    assert [v["ref"] for v in made] == ["hub@1", "hub@2"]
    base = pair.both(lambda c: c.models.register_base(f"base-{c.remote}", "org/parity-base", "pm"))
    assert [v["source"] for v in base] == ["base", "base"]
    moved = pair.both(
        lambda c: c.models.promote("hub@1" if c.remote else "hub", f"by-{c.remote}", "pm", "why")
    )
    assert [m["ref"] for m in moved] == ["hub@2", "hub@1"]
    listed = pair.same(lambda c: c.models.list_models("pm"))
    assert [(m["name"], m["aliases"]) for m in listed][2] == ("hub", {"by-False": 2, "by-True": 1})
    assert len(pair.same(lambda c: c.models.list_versions("hub", "pm"))) == 2
    assert pair.same(lambda c: c.models.get_version("hub@by-True", "pm"))["version"] == 1
    history = pair.same(lambda c: c.models.alias_history("hub", "pm"))
    assert [(e["alias"], e["reason"]) for e in history] == [("by-True", "why"), ("by-False", "why")]
    assert pair.same(lambda c: c.models.alias_history("hub", "pm", "by-False"))[0]["to_version"] == 2
    assert pair.same(lambda c: c.models.lineage("hub@2", "pm"))["ref"] == "hub@2"
    assert pair.same(lambda c: c.models.card("hub", "pm"))["markdown"].startswith("# hub@2")


def test_a_protected_alias_refuses_a_failing_candidate_through_both_clients(
    pair: Pair, tmp_path: Path
) -> None:
    ctx = pair.local.ctx
    with serving() as good, serving() as flaky:
        seeded = seed(ctx, tmp_path, good, flaky)
        protected = pair.remote.models.protect(
            "m", "champion", AliasProtectionCreate(suite=SUITE, reason="release"), PROJECT
        )
        assert protected.created_by is not None and protected.suite == SUITE
        assert pair.same(lambda c: c.models.protections("m", PROJECT))[0]["suite_name"] == "release"
        seeded.arm(times=4)  # two failed examples for each client, if the second evaluates again
        assert pair.same_error(lambda c: c.models.promote("m@2", "champion", PROJECT)) is Conflict
        assert champion(ctx) == 1
        assert [e.to_version for e in pair.remote.models.alias_history("m", PROJECT)] == [1]
        assert pair.remote.models.promote("m@3", "champion", PROJECT).gates[0].passed
        assert pair.same(lambda c: c.models.get_version("m@champion", PROJECT))["version"] == 3
        pair.remote.models.unprotect("m", "champion", PROJECT)
        assert pair.same_error(lambda c: c.models.unprotect("m", "champion", PROJECT)) is NotFound
        assert pair.same(lambda c: c.models.protections("m", PROJECT)) == []


def test_bad_input_raises_the_same_class_through_both_clients(pair: Pair) -> None:
    assert pair.same_error(lambda c: c.models.get_version("nope@1", "pm")) is NotFound
    assert pair.same_error(lambda c: c.models.list_versions("nope", "pm")) is NotFound
    assert pair.same_error(lambda c: c.models.promote("nope", "latest", "pm")) is InvalidInput
    bad = AliasProtectionCreate(suite=SUITE.replace("{ref: qa@1}", "{path: qa.jsonl}"))
    assert pair.same_error(lambda c: c.models.protect("nope", "champion", bad, "pm")) is InvalidInput
    with pytest.raises(InvalidInput, match="gates are code"):  # the one known asymmetry: code cannot travel
        pair.remote.models.promote("hub@1", "x", "pm", gates=[lambda c, v: GateResult(name="g", passed=True)])
