"""Undeclared template variables are inferred as required strings; declared ones keep their types."""

from __future__ import annotations

from typing import Any

import pytest

from llmloop.errors import InvalidInput
from llmloop.services.prompts.render import CompiledPrompt
from llmloop.services.prompts.schemas import PromptCreate
from llmloop.services.prompts.variables import INFERRED


def compile_spec(**kw: Any) -> CompiledPrompt:
    spec = PromptCreate.model_validate({"name": "p", **kw})
    return CompiledPrompt(
        ref="p@1",
        messages=spec.messages,
        template=spec.template,
        variables=spec.variables,
        params=spec.params,
        few_shot=spec.few_shot,
    )


MONTH = [{"role": "user", "content": "Three trips for {{ month }} from {{ city }}."}]


def test_undeclared_variables_are_inferred_as_required_strings() -> None:
    p = compile_spec(messages=MONTH)
    assert {n: (v.type, v.required, v.description) for n, v in p.variables.items()} == {
        "city": ("string", True, INFERRED),
        "month": ("string", True, INFERRED),
    }
    assert p.render(month="May", city="Porto") == [
        {"role": "user", "content": "Three trips for May from Porto."}
    ]


def test_declared_variables_keep_their_type_beside_inferred_ones() -> None:
    p = compile_spec(
        messages=[{"role": "user", "content": "{{ n }} ideas for {{ month }}"}], variables={"n": "integer"}
    )
    assert (p.variables["n"].type, p.variables["n"].description) == ("integer", "")
    assert p.render(n=3, month="May")[0]["content"] == "3 ideas for May"
    with pytest.raises(InvalidInput, match="variable 'n' must be integer, got str") as e:
        p.render(n="abc", month="May")
    assert e.value.details == {"variable": "n", "expected": "integer"}
    assert "inferred" not in e.value.message


def test_an_inferred_variable_refuses_a_non_string_and_says_how_to_declare_it() -> None:
    p = compile_spec(template="{% for t in trips %}{{ t }} {% endfor %}")
    with pytest.raises(InvalidInput, match=r"'trips' must be string, got list \(inferred: declare it"):
        p.render(trips=["a", "b"])
    declared = compile_spec(template="{% for t in trips %}{{ t }} {% endfor %}", variables={"trips": "list"})
    assert declared.render_text(trips=["a", "b"]) == "a b "


@pytest.mark.parametrize("spec", [{"messages": MONTH}, {"template": "{{ month }} in {{ city }}"}])
def test_rendering_without_an_inferred_variable_names_it(spec: dict[str, Any]) -> None:
    p = compile_spec(**spec)
    with pytest.raises(InvalidInput, match="missing variable 'month'") as e:
        p.render(city="Porto")
    assert e.value.details == {"variable": "month"}


def test_a_misspelt_variable_is_named_at_the_first_render() -> None:
    p = compile_spec(template="Hi {{ nmae }}", variables={"name": "string"})
    with pytest.raises(InvalidInput, match="missing variable 'nmae'"):
        p.render(name="Ann")


def test_the_few_shot_variable_and_loop_variables_are_not_inferred() -> None:
    p = compile_spec(
        template="{% for e in examples %}{{ e.input }} -> {{ e.output }}\n{% endfor %}{{ question }}",
        few_shot={"examples": [{"input": "a", "output": "b"}]},
    )
    assert list(p.variables) == ["question"]
    assert p.render_text(question="q") == "a -> b\nq"


def test_ll_prompts_create_stores_the_inferred_variables() -> None:
    import llmloop as ll

    v = ll.prompts.create("trips", messages=MONTH, project="travel").version
    assert {n: var.type for n, var in v.variables.items()} == {"city": "string", "month": "string"}
    again = ll.prompts.create("trips", messages=MONTH, project="travel").version
    assert again.version == v.version == 1  # the same content: inference is deterministic
    with pytest.raises(InvalidInput, match="missing variable 'month'"):
        ll.prompts.get("trips", project="travel").render(city="Porto")
