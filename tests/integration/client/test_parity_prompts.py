"""Prompts through both clients: same JSON, same errors; the playground runs on a real upstream server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakes.openai_server import FakeOpenAI, serving
from tests.integration.client.conftest import Pair

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.prompts.schemas import PromptCreate, PromptRunRequest, RenderRequest

P = "parity"
COVERED = {
    "prompts.list",
    "prompts.create",
    "prompts.get",
    "prompts.versions",
    "prompts.diff",
    "prompts.set_alias",
    "prompts.delete_alias",
    "prompts.render",
    "prompts.run",
}
SPEC = {
    "project": P,
    "name": "greet",
    "messages": [{"role": "user", "content": "Hello {{ who }}"}],
    "variables": {"who": "string"},
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with serving() as fake:
        yield fake


def test_registry_reads_and_writes_agree(pair: Pair) -> None:
    v1 = pair.same(lambda c: c.prompts.create_version(PromptCreate.model_validate(SPEC)))
    assert v1["version"] == 1  # the second call found the same content: no new version
    changed = {**SPEC, "messages": [{"role": "user", "content": "Hi {{ who }}!"}], "message": "shorter"}
    pair.local.prompts.create_version(PromptCreate.model_validate(changed))
    assert pair.same(lambda c: c.prompts.get_version("greet", P))["version"] == 2
    assert pair.same(lambda c: c.prompts.get_version("greet@1", P)) == v1
    assert [v["version"] for v in pair.same(lambda c: c.prompts.list_versions("greet", P))] == [2, 1]
    for alias in ("staging", "old"):
        held = pair.same(lambda c, alias=alias: c.prompts.set_alias("greet", alias, 1, P))
        assert alias in held["aliases"]
    assert pair.same(lambda c: c.prompts.list_prompts(P))["items"][0]["aliases"] == {"old": 1, "staging": 1}
    diff = pair.same(lambda c: c.prompts.diff_versions("greet@staging", "2", P))
    assert "messages" in diff["changed"] and (diff["from_ref"], diff["to_ref"]) == ("greet@1", "greet@2")
    latest = pair.same(lambda c: c.prompts.diff_versions("greet", "greet@1", P))  # a bare name: the latest
    assert (latest["from_ref"], latest["to_ref"]) == ("greet@2", "greet@1")
    rendered = pair.same(
        lambda c: c.prompts.render("greet@1", RenderRequest(project=P, variables={"who": "Ada"}))
    )
    assert rendered["messages"] == [{"role": "user", "content": "Hello Ada"}]
    a, b = pair.both(lambda c: c.prompts.delete_alias("greet", "old" if c.remote else "staging", P))
    assert a is None and b is None
    assert pair.same(lambda c: c.prompts.get_version("greet", P))["aliases"] == []


def test_playground_runs_agree(pair: Pair, upstream: FakeOpenAI) -> None:
    from llmloop.services.registry import service as registry
    from llmloop.services.registry.schemas import ModelVersionCreate, UpstreamSpec

    registry.register_model_version(
        pair.local.ctx,
        spec=ModelVersionCreate(
            project=P, name="echo", upstream=UpstreamSpec(base_url=upstream.url, model="base", timeout_s=10)
        ),
    )
    request = PromptRunRequest(project=P, variables={"who": "Ada"}, model="echo@1")
    a, b = pair.both(lambda c: c.prompts.run("greet@1", request))
    volatile = ("latency_ms", "trace_id")
    assert {k: v for k, v in a.items() if k not in volatile} == {
        k: v for k, v in b.items() if k not in volatile
    }
    assert a["output"] == "echo: Hello Ada" and a["trace_id"] != b["trace_id"]


def test_bad_input_raises_the_same_class_through_both_clients(pair: Pair, tmp_path: Path) -> None:
    assert pair.same_error(lambda c: c.prompts.get_version("greet@9", P)) is NotFound
    assert pair.same_error(lambda c: c.prompts.get_version("no such", P)) is InvalidInput
    broken = {**SPEC, "name": "bad", "messages": [{"role": "user", "content": "{% for x in %}"}]}
    assert (
        pair.same_error(lambda c: c.prompts.create_version(PromptCreate.model_validate(broken)))
        is InvalidInput
    )
    assert pair.same_error(lambda c: c.prompts.list_versions("nope", P)) is NotFound
    assert pair.same_error(lambda c: c.prompts.set_alias("greet", "prod", 9, P)) is NotFound
    assert pair.same_error(lambda c: c.prompts.delete_alias("greet", "never", P)) is NotFound
    assert pair.same_error(lambda c: c.prompts.diff_versions("greet@1", "nope@1", P)) is NotFound
    missing = RenderRequest(project=P, variables={})
    assert pair.same_error(lambda c: c.prompts.render("greet@1", missing)) is InvalidInput
    no_model = PromptRunRequest(project=P, variables={"who": "Ada"})
    assert pair.same_error(lambda c: c.prompts.run("greet@1", no_model)) is InvalidInput
    unknown = PromptRunRequest(project=P, variables={"who": "Ada"}, model="nope@1")
    assert pair.same_error(lambda c: c.prompts.run("greet@1", unknown)) is NotFound
    assert [p["name"] for p in pair.same(lambda c: c.prompts.list_prompts(P))["items"]] == ["greet"]
