"""Compiled prompts: typed variables, defaults, few-shot selection (fixed, random) and the token budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.prompts.fewshot import ExampleSet, approx_tokens
from llmloop.services.prompts.render import CompiledPrompt
from llmloop.services.prompts.schemas import FewShot, PromptCreate, PromptParams
from llmloop.services.prompts.variables import parse_text

EXAMPLES = [{"input": f"question {i} " + "word " * i, "output": f"answer {i}"} for i in range(1, 9)]


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


CHAT = {
    "messages": [
        {"role": "system", "content": "You help {{ agency }} customers."},
        {
            "role": "user",
            "content": "{{ name }} ({{ age }}) likes {{ tags|join(', ') }}. Budget {{ budget }}.",
        },
    ],
    "variables": {
        "agency": "string",
        "name": "string",
        "age": "integer",
        "tags": "list",
        "budget": {"type": "number", "default": 1000},
    },
    "params": {"temperature": 0.3, "max_tokens": 50},
}


def test_render_returns_openai_messages_with_defaults_filled() -> None:
    p = compile_spec(**CHAT)
    assert p.render(agency="Sunny", name="Ann", age=30, tags=["sea", "food"]) == [
        {"role": "system", "content": "You help Sunny customers."},
        {"role": "user", "content": "Ann (30) likes sea, food. Budget 1000."},
    ]
    assert p.params == {"temperature": 0.3, "max_tokens": 50}


@pytest.mark.parametrize(
    ("values", "variable", "message"),
    [
        ({"agency": "A", "name": "N", "tags": []}, "age", "missing variable 'age'"),
        (
            {"agency": "A", "name": "N", "age": 3, "tags": [], "colour": "red"},
            "colour",
            "unexpected variable",
        ),
        ({"agency": "A", "name": "N", "age": "3", "tags": []}, "age", "must be integer, got str"),
        ({"agency": "A", "name": "N", "age": True, "tags": []}, "age", "must be integer, got bool"),
        ({"agency": "A", "name": "N", "age": 3, "tags": "sea"}, "tags", "must be list, got str"),
        ({"agency": "A", "name": "N", "age": 3, "tags": [], "budget": "lots"}, "budget", "must be number"),
    ],
)
def test_bad_variables_are_named(values: dict[str, Any], variable: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        compile_spec(**CHAT).render(**values)
    assert err.value.details["variable"] == variable


def test_text_prompt_renders_text_and_one_user_message() -> None:
    p = compile_spec(template="Summarise: {{ text }}", variables={"text": "string"})
    assert p.render_text(text="abc") == "Summarise: abc"
    assert p.render(text="abc") == [{"role": "user", "content": "Summarise: abc"}]
    with pytest.raises(InvalidInput, match="chat prompt"):
        compile_spec(**CHAT).render_text(agency="A", name="N", age=1, tags=[])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"template": "{{ 'x' * 10**9 }}"}, "render limit"),
        ({"template": "{% for i in range(10**7) %}{% endfor %}"}, "range"),
        ({"template": "{{ ''.__class__ }}"}, "not allowed"),
        ({"messages": [{"role": "user", "content": "{% if %}"}]}, "messages\\[0\\] line 1, column"),
    ],
)
def test_bad_templates_fail_when_compiled(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        compile_spec(**spec)


def test_schema_rejects_half_specified_prompts() -> None:
    with pytest.raises(ValueError, match="either messages"):
        PromptCreate(name="p")
    with pytest.raises(ValueError, match="either messages"):
        PromptCreate.model_validate(
            {"name": "p", "template": "a", "messages": [{"role": "user", "content": "b"}]}
        )
    with pytest.raises(ValueError, match="temperature"):
        PromptParams.model_validate({"temperature": 5})
    with pytest.raises(ValueError, match="Extra inputs"):
        PromptParams.model_validate({"temprature": 0.5})
    with pytest.raises(ValueError, match="query_variable"):
        FewShot(strategy="semantic", examples=EXAMPLES)


def test_required_survives_a_round_trip_through_json() -> None:
    spec = PromptCreate.model_validate(
        {"name": "p", "template": "{{ a }}{{ b }}", "variables": CHAT["variables"]}
    )
    again = PromptCreate.model_validate_json(spec.model_dump_json())
    assert {n: v.required for n, v in again.variables.items()} == {
        "agency": True,
        "name": True,
        "age": True,
        "tags": True,
        "budget": False,
    }


def test_parse_text_follows_declared_types() -> None:
    spec = PromptCreate.model_validate({"name": "p", "template": "x", "variables": CHAT["variables"]})
    v = spec.variables
    assert parse_text("age", v["age"], "42") == 42
    assert parse_text("tags", v["tags"], '["a", "b"]') == ["a", "b"]
    assert parse_text("budget", v["budget"], "9.5") == 9.5
    assert parse_text("other", None, "text") == "text"
    with pytest.raises(InvalidInput, match="not a valid integer"):
        parse_text("age", v["age"], "old")


FEW_SHOT_CHAT = {
    "messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "{{ question }}"},
    ],
    "variables": {"question": "string"},
}


def few_shot(**kw: Any) -> dict[str, Any]:
    return {
        "examples": EXAMPLES,
        "messages": [
            {"role": "user", "content": "{{ input }}"},
            {"role": "assistant", "content": "{{ output }}"},
        ],
        **kw,
    }


def test_fixed_examples_are_inserted_after_the_system_message(tmp_path: Path) -> None:
    p = compile_spec(**FEW_SHOT_CHAT, few_shot=few_shot(strategy="fixed", k=2))
    out = p.format({"question": "Where?"}, cache_dir=tmp_path)
    assert [m["role"] for m in out.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert out.messages[2]["content"] == "answer 1" and out.messages[4]["content"] == "answer 2"
    assert out.messages[-1]["content"] == "Where?"
    assert [e["output"] for e in out.examples] == ["answer 1", "answer 2"]


def test_random_examples_are_seeded(tmp_path: Path) -> None:
    def picked(seed: int) -> list[str]:
        p = compile_spec(**FEW_SHOT_CHAT, few_shot=few_shot(strategy="random", k=3, seed=seed))
        return [e["output"] for e in p.format({"question": "q"}, cache_dir=tmp_path).examples]

    assert picked(7) == picked(7)
    assert len(set(picked(7))) == 3
    assert any(picked(s) != picked(7) for s in range(8, 12))


def test_text_template_loops_over_examples(tmp_path: Path) -> None:
    p = compile_spec(
        template="{% for e in examples %}Q: {{ e.input }}\nA: {{ e.output }}\n{% endfor %}Q: {{ q }}\nA:",
        variables={"q": "string"},
        few_shot={"examples": EXAMPLES[:2]},
    )
    assert p.render_text(q="Last?") == (
        "Q: question 1 word \nA: answer 1\nQ: question 2 word word \nA: answer 2\nQ: Last?\nA:"
    )


def test_token_budget_drops_whole_examples(tmp_path: Path) -> None:
    p = compile_spec(**FEW_SHOT_CHAT, few_shot=few_shot(strategy="fixed", max_tokens=25))
    out = p.format({"question": "Where?"}, cache_dir=tmp_path)
    kept = out.examples
    assert 0 < len(kept) < len(EXAMPLES) and out.examples_dropped == len(EXAMPLES) - len(kept)
    assert kept == EXAMPLES[: len(kept)]  # a prefix of the ranking: the least relevant go first
    shots = {m["content"] for m in out.messages[1:-1]}
    assert all(e["input"] in shots and e["output"] in shots for e in kept)  # never cut mid-text
    example_tokens = sum(approx_tokens(e["input"]) + approx_tokens(e["output"]) + 6 for e in kept)
    assert example_tokens <= 25
    one_more = EXAMPLES[len(kept)]
    assert example_tokens + approx_tokens(one_more["input"]) + approx_tokens(one_more["output"]) + 6 > 25


def test_context_window_counts_the_completion_and_uses_the_given_counter(tmp_path: Path) -> None:
    spec = {**FEW_SHOT_CHAT, "params": {"max_tokens": 40}}
    p = compile_spec(**spec, few_shot=few_shot(strategy="fixed"))
    chars = len  # a character counter: budgets in characters
    out = p.format({"question": "Where?"}, context_window=200, count_tokens=chars, cache_dir=tmp_path)
    assert out.prompt_tokens is not None and out.prompt_tokens + 40 <= 200
    assert out.examples_dropped > 0
    with pytest.raises(InvalidInput, match="without any examples"):
        p.format({"question": "x" * 500}, context_window=200, count_tokens=chars, cache_dir=tmp_path)


def test_few_shot_set_up_is_checked() -> None:
    with pytest.raises(InvalidInput, match="example 0 has no field 'output'"):
        compile_spec(**FEW_SHOT_CHAT, few_shot=few_shot(examples=[{"input": "a"}]))
    with pytest.raises(InvalidInput, match="query_variable 'query' is not a declared variable"):
        compile_spec(**FEW_SHOT_CHAT, few_shot=few_shot(strategy="semantic", query_variable="query"))
    with pytest.raises(InvalidInput, match="also a declared variable"):
        compile_spec(**FEW_SHOT_CHAT, few_shot=few_shot(variable="question"))
    with pytest.raises(InvalidInput, match="for chat prompts"):
        compile_spec(template="{{ q }}", variables={"q": "string"}, few_shot=few_shot())


def test_examples_from_uses_the_registered_source(tmp_path: Path) -> None:
    spec = {**FEW_SHOT_CHAT, "few_shot": {**few_shot(k=2), "examples": [], "examples_from": "faq@3"}}
    p = compile_spec(**spec)
    with pytest.raises(Unavailable, match="needs an example source"):
        p.format({"question": "q"}, cache_dir=tmp_path)
    asked: list[str] = []

    def source(ref: str) -> ExampleSet:
        asked.append(ref)
        return ExampleSet(key="faq-v3-hash", rows=EXAMPLES[3:])

    out = p.format({"question": "q"}, example_source=source, cache_dir=tmp_path)
    assert asked == ["faq@3"]
    assert [e["output"] for e in out.examples] == ["answer 4", "answer 5"]
