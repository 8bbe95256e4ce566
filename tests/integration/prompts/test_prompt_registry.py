"""The prompt registry on a real store (SQLite and PostgreSQL): versions, aliases, diffs, bad input, permissions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

import llmloop as ll
from llmloop.errors import InvalidInput, NotFound, PermissionDenied
from llmloop.security.rbac import Actor
from llmloop.services.prompts import service
from llmloop.services.prompts.schemas import PromptCreate, RenderRequest
from llmloop.store.tables.prompts import PromptRow, PromptVersionRow

RECOMMEND = {
    "project": "travel",
    "name": "recommend",
    "messages": [
        {"role": "system", "content": "You are {{ agency }}'s travel assistant."},
        {"role": "user", "content": "I like {{ interest }}.\nWhere should I go in {{ month }}?"},
    ],
    "variables": {"agency": "string", "interest": "string", "month": {"type": "string", "default": "May"}},
    "params": {"temperature": 0.2, "max_tokens": 64},
    "message": "first cut",
}


def create(ctx: Any, **changes: Any) -> Any:
    return service.create_prompt_version(ctx, spec=PromptCreate.model_validate({**RECOMMEND, **changes}))


def counts(ctx: Any) -> tuple[int, int]:
    with ctx.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(PromptRow)) or 0,
            s.scalar(select(func.count()).select_from(PromptVersionRow)) or 0,
        )


def test_versions_aliases_and_rendering(ctx: Any) -> None:
    v1 = create(ctx)
    same = create(ctx, message="applied again")
    assert (v1.version, same.version, same.id) == (1, 1, v1.id)  # identical content: no new version
    v2 = create(ctx, params={"temperature": 0.9, "max_tokens": 64}, message="warmer")
    assert (v2.version, v2.message) == (2, "warmer")
    service.set_prompt_alias(ctx, project="travel", name="recommend", alias="production", version=1)
    service.set_prompt_alias(ctx, project="travel", name="recommend", alias="staging", version=2)

    prod = service.get_prompt_version(ctx, project="travel", ref="recommend@production")
    assert (prod.version, prod.aliases, prod.params.temperature) == (1, ["production"], 0.2)
    assert service.get_prompt_version(ctx, project="travel", ref="recommend").version == 2
    assert (
        service.get_prompt_version(ctx, project="travel", ref="recommend@1").content_hash == v1.content_hash
    )

    rendered = service.render_prompt(
        ctx,
        ref="recommend@production",
        request=RenderRequest(project="travel", variables={"agency": "Sunny", "interest": "hiking"}),
    )
    assert rendered.ref == "recommend@1"
    assert rendered.messages[1] == {"role": "user", "content": "I like hiking.\nWhere should I go in May?"}
    assert rendered.params == {"temperature": 0.2, "max_tokens": 64}

    service.set_prompt_alias(ctx, project="travel", name="recommend", alias="production", version=2)
    assert service.get_prompt_version(ctx, project="travel", ref="recommend@production").version == 2
    versions = service.list_prompt_versions(ctx, project="travel", name="recommend")
    assert [(v.version, v.aliases) for v in versions] == [(2, ["production", "staging"]), (1, [])]
    summary = service.list_prompts(ctx, project="travel").items
    assert [(p.name, p.latest_version, p.aliases) for p in summary] == [
        ("recommend", 2, {"production": 2, "staging": 2})
    ]
    service.delete_prompt_alias(ctx, project="travel", name="recommend", alias="staging")
    with pytest.raises(NotFound, match="recommend@staging"):
        service.get_prompt_version(ctx, project="travel", ref="recommend@staging")


def test_old_versions_never_change(ctx: Any) -> None:
    v1 = create(ctx)
    create(ctx, messages=[{"role": "user", "content": "Just {{ interest }} in {{ month }} for {{ agency }}"}])
    again = service.get_prompt_version(ctx, project="travel", ref="recommend@1")
    assert again == v1.model_copy(update={"aliases": []})
    with pytest.raises(Exception, match="frozen"):
        again.message = "rewritten"  # type: ignore[misc]


def test_diff_names_changed_fields(ctx: Any) -> None:
    create(ctx)
    messages = [dict(m) for m in RECOMMEND["messages"]]
    messages[0]["content"] = "You are {{ agency }}'s friendly travel assistant."
    create(ctx, messages=messages, params={"temperature": 0.7, "max_tokens": 64})
    diff = service.diff_prompt_versions(ctx, project="travel", a="recommend@1", b="2")
    assert (diff.from_ref, diff.to_ref, diff.changed) == (
        "recommend@1",
        "recommend@2",
        ["messages", "params"],
    )
    assert "-  content: You are {{ agency }}'s travel assistant." in diff.diff
    assert "+  content: You are {{ agency }}'s friendly travel assistant." in diff.diff
    assert "+  temperature: 0.7" in diff.diff and "-  temperature: 0.2" in diff.diff
    edits = [x for x in diff.diff.splitlines() if x[:1] in "+-" and not x.startswith(("+++", "---"))]
    assert len(edits) == 4 and not any("interest" in x for x in edits)  # unchanged lines only as context
    same = service.diff_prompt_versions(ctx, project="travel", a="recommend@2", b="recommend")
    assert same.changed == [] and same.diff == ""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"messages": [{"role": "user", "content": "{{ ''.__class__.__mro__ }}"}]},
            "'__mro__' is not allowed",
        ),
        ({"messages": [{"role": "user", "content": "{{ cycler.__init__.__globals__ }}"}]}, "not allowed"),
        ({"messages": [{"role": "user", "content": "{% for i in range(10**9) %}x{% endfor %}"}]}, "range"),
        ({"messages": [{"role": "user", "content": "{{ 'x' * 10**9 }}"}]}, "render limit"),
        ({"messages": [{"role": "user", "content": "ok\n{{ interest + }}"}]}, "line 2, column"),
        ({"name": "bad name!"}, "invalid prompt name"),
    ],
)
def test_bad_prompts_register_nothing(ctx: Any, changes: dict[str, Any], message: str) -> None:
    create(ctx)
    before = counts(ctx)
    with pytest.raises(InvalidInput, match=message):
        create(ctx, **changes)
    assert counts(ctx) == before
    assert service.get_prompt_version(ctx, project="travel", ref="recommend").version == 1


def test_unknown_references(ctx: Any) -> None:
    create(ctx)
    with pytest.raises(NotFound, match="prompt 'nope' not found"):
        service.get_prompt_version(ctx, project="travel", ref="nope")
    with pytest.raises(NotFound, match="no version 9"):
        service.get_prompt_version(ctx, project="travel", ref="recommend@9")
    with pytest.raises(NotFound, match="alias recommend@production"):
        service.get_prompt_version(ctx, project="travel", ref="recommend@production")
    with pytest.raises(NotFound, match="project 'elsewhere'"):
        service.get_prompt_version(ctx, project="elsewhere", ref="recommend")
    with pytest.raises(NotFound, match="no version 3"):
        service.set_prompt_alias(ctx, project="travel", name="recommend", alias="production", version=3)
    with pytest.raises(InvalidInput, match="alias"):
        service.set_prompt_alias(ctx, project="travel", name="recommend", alias="9lives", version=1)


def test_viewers_read_but_do_not_write(ctx: Any) -> None:
    create(ctx)
    viewer = ctx.as_actor(Actor(id="vera", roles={"travel": "viewer"}))
    assert service.get_prompt_version(viewer, project="travel", ref="recommend").version == 1
    with pytest.raises(PermissionDenied, match="prompts:write"):
        service.create_prompt_version(
            viewer, spec=PromptCreate.model_validate({**RECOMMEND, "message": "x2"})
        )
    with pytest.raises(PermissionDenied):
        service.set_prompt_alias(viewer, project="travel", name="recommend", alias="production", version=1)
    outsider = replace(viewer, actor=Actor(id="olga", roles={"other": "admin"}))
    with pytest.raises(NotFound, match="project 'travel' not found"):  # as if it did not exist
        service.get_prompt_version(outsider, project="travel", ref="recommend")


def test_sdk_create_get_render(ctx: Any) -> None:
    prompt = ll.prompts.create(
        "greet",
        messages=[{"role": "user", "content": "Hello {{ who }}, {{ n }} trips left"}],
        variables={"who": "string", "n": "integer"},
        params={"temperature": 0.1},
        message="hello",
    )
    assert prompt.ref == "greet@1"
    ll.prompts.set_alias("greet", "production", 1)
    got = ll.prompts.get("greet@production")
    assert got.render(who="Ann", n=2) == [{"role": "user", "content": "Hello Ann, 2 trips left"}]
    with pytest.raises(InvalidInput, match="missing variable 'n'") as err:
        got.render(who="Ann")
    assert err.value.details == {"variable": "n"}
    assert [v.version for v in ll.prompts.versions("greet")] == [1]
    assert ll.prompts.list().items[0].name == "greet"
