"""Chains on a real tiny model: steps, parsing, retries with repair, and every run recorded as nested spans."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import llmloop as ll
from llmloop.errors import InvalidInput
from llmloop.services.observe import semconv, service
from llmloop.services.prompts.chains import (
    REPAIR_MESSAGE,
    Chain,
    FunctionStep,
    ParseFailed,
    PromptStep,
    json_output,
    regex_output,
)


@pytest.fixture
def suggest(ctx: Any) -> Any:
    return ll.prompts.create(
        "suggest",
        messages=[
            {"role": "system", "content": "You are a travel assistant."},
            {"role": "user", "content": "Suggest one city for {{ traveller }} in {{ month }}."},
        ],
        variables={"traveller": "string", "month": "string"},
        params={"model": "tiny-llama", "max_tokens": 6, "temperature": 0.0},
        message="chain test",
    )


def spans_by_name(trace_id: str, ctx: Any) -> tuple[Any, dict[str, list[Any]]]:
    ll.flush_traces()
    trace = service.get_trace(ctx, trace_id=trace_id)
    out: dict[str, list[Any]] = {}
    for s in trace.spans:
        out.setdefault(s.name, []).append(s)
    return trace, out


def test_prompt_then_function_on_a_tiny_model(ctx: Any, suggest: Any, tiny_chat: Callable[..., str]) -> None:
    chain = Chain(
        "plan-trip",
        [
            PromptStep("draft", suggest),
            FunctionStep("measure", lambda state: {"chars": len(state["draft"]), "month": state["month"]}),
        ],
        generate=tiny_chat,
    )
    result = chain.run(traveller="a family", month="May")
    assert isinstance(result.state["draft"], str) and result.state["draft"]
    assert result.output == {"chars": len(result.state["draft"]), "month": "May"}
    assert result.state["draft"] == tiny_chat(suggest.render(traveller="a family", month="May"), max_tokens=6)

    trace, spans = spans_by_name(result.trace_id, ctx)
    root, draft, measure, call = (
        spans[n][0] for n in ("chain plan-trip", "step draft", "step measure", "chat tiny-llama")
    )
    assert (trace.name, trace.span_count, trace.status, trace.model) == (
        "chain plan-trip",
        4,
        "ok",
        "tiny-llama",
    )
    assert draft.parent_span_id == root.span_id and measure.parent_span_id == root.span_id
    assert call.parent_span_id == draft.span_id and call.kind == "client"
    assert call.attributes[semconv.GEN_AI_REQUEST_MODEL] == "tiny-llama"
    assert call.attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 6
    assert call.attributes[semconv.LLMLOOP_PROMPT] == "suggest@1"
    sent = json.loads(call.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert sent[1]["content"] == "Suggest one city for a family in May."
    answer = json.loads(call.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert answer == [{"role": "assistant", "content": result.state["draft"]}]
    assert json.loads(root.attributes[semconv.LLMLOOP_INPUT]) == {"traveller": "a family", "month": "May"}


def test_parse_failure_retries_with_repair(ctx: Any, suggest: Any, tiny_chat: Callable[..., str]) -> None:
    seen: list[str] = []

    def picky(text: str) -> str:  # refuses the first answer, accepts the next
        seen.append(text)
        if len(seen) == 1:
            raise ValueError("name a single city")
        return text.strip()

    calls: list[list[dict[str, str]]] = []

    def recording(messages: list[dict[str, str]], **params: Any) -> str:
        calls.append(messages)
        return tiny_chat(messages, **params)

    result = Chain("retry", [PromptStep("city", suggest, parse=picky, retries=2)], generate=recording).run(
        traveller="a student", month="June"
    )
    assert result.steps[0].attempts == 2 and len(calls) == 2
    assert calls[1][:2] == calls[0][:2]
    assert calls[1][-2] == {"role": "assistant", "content": seen[0]}
    assert calls[1][-1]["content"] == REPAIR_MESSAGE.format(error="name a single city")

    _, spans = spans_by_name(result.trace_id, ctx)
    first, second = sorted(spans["chat tiny-llama"], key=lambda s: s.attributes[semconv.LLMLOOP_ATTEMPT])
    assert first.status_code == "error" and first.events[0].name == "parse_failed"
    assert first.events[0].attributes["error"] == "name a single city"
    assert second.status_code == "unset" and not second.events
    assert spans["step city"][0].attributes[semconv.LLMLOOP_ATTEMPT] == 2


def test_unparseable_answers_fail_after_the_retries(
    ctx: Any, suggest: Any, tiny_chat: Callable[..., str]
) -> None:
    chain = Chain(
        "strict",
        [PromptStep("plan", suggest, parse=json_output({"type": "object", "required": ["city"]}), retries=2)],
        generate=tiny_chat,
    )
    with (
        ll.span("caller", project="default") as outer,
        pytest.raises(ParseFailed, match="after 3 attempts") as err,
    ):
        chain.run(traveller="a retiree", month="March")
    assert err.value.details == {"step": "plan", "attempts": 3}
    trace, spans = spans_by_name(outer.trace_id, ctx)
    assert len(spans["chat tiny-llama"]) == 3
    assert spans["chain strict"][0].status_code == "error" and trace.status == "error"
    assert spans["chain strict"][0].parent_span_id == outer.span_id


def test_json_and_regex_parsers() -> None:
    parse = json_output({"type": "object", "properties": {"days": {"type": "integer"}}, "required": ["days"]})
    assert parse('Sure! ```json\n{"days": 3}\n```') == {"days": 3}
    assert parse('Plan: {"days": 4, "city": "Rome"} enjoy') == {"days": 4, "city": "Rome"}
    with pytest.raises(ValueError, match="at days: 'three' is not of type 'integer'"):
        parse('{"days": "three"}')
    with pytest.raises(ValueError, match="no JSON value"):
        parse("no json here")
    with pytest.raises(InvalidInput, match="invalid JSON schema"):
        json_output({"type": "no-such-type"})
    city = regex_output(r"City: (\w+)", group=1)
    assert city("Answer -- City: Lisbon.") == "Lisbon"
    with pytest.raises(ValueError, match="does not match"):
        city("Lisbon")
    with pytest.raises(InvalidInput, match="invalid regular expression"):
        regex_output("(")


def test_json_step_with_a_scripted_model_and_chain_checks(ctx: Any, suggest: Any) -> None:
    answers = iter(['{"days": "many"}', '{"days": 5}'])
    schema = {"type": "object", "properties": {"days": {"type": "integer"}}, "required": ["days"]}
    chain = Chain(
        "days",
        [
            PromptStep("plan", suggest, parse=json_output(schema), generate=lambda m, **p: next(answers)),
            FunctionStep("double", lambda s: s["plan"]["days"] * 2, output="total"),
        ],
    )
    result = chain.run(traveller="x", month="y")
    assert result.output == 10 and result.state["total"] == 10 and result.steps[0].attempts == 2
    ll.flush_traces()
    with pytest.raises(InvalidInput, match="two steps named"):
        Chain("dup", [FunctionStep("a", dict), FunctionStep("a", dict)])
    with pytest.raises(InvalidInput, match="no generate function"):
        Chain("nogen", [PromptStep("p", suggest)]).run(traveller="x", month="y")
    ll.flush_traces()
