"""Chains: a small, explicit way to compose prompt → model → parse → next step.

A chain is a list of steps run in order over one ``state`` dict that starts as the inputs;
each step stores its result under its ``output`` name (default: the step's name).

- ``PromptStep`` renders a prompt version with the state's values for its declared
  variables, calls ``generate(messages, **params) -> str`` (any engine, passed in), and
  parses the answer (``json_output(schema)``, ``regex_output(pattern)`` or any function
  that raises ``ValueError``). On a parse failure it asks again, up to ``retries`` times,
  showing the model its previous answer and what was wrong with it (``repair``).
- ``FunctionStep`` calls a Python function with the state.

Every run is one trace: a ``chain`` span, a span per step, and a ``chat`` span per model
call (GenAI attributes, the attempt number, a ``parse_failed`` event when parsing failed),
written to the store by the batched span writer. This is deliberately not a framework: no
branching DSL, no memory objects — write Python around ``Chain.run`` for those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmloop.errors import InvalidInput
from llmloop.services.observe import semconv
from llmloop.services.observe.tracer import span
from llmloop.services.prompts.playground import Generate, messages_json, model_call_attributes
from llmloop.services.prompts.schemas import RenderedPrompt

Parser = Callable[[str], Any]
REPAIR_MESSAGE = (
    "That answer could not be used: {error}. Answer again, following the required format exactly."
)


class ParseFailed(InvalidInput):
    """A model's answer could not be parsed, after every retry."""


class Renderable(Protocol):
    """What a prompt step needs from a prompt: its variable names and a full render."""

    @property
    def variable_names(self) -> frozenset[str]: ...

    def format(self, variables: Mapping[str, Any]) -> RenderedPrompt: ...


def _first_json(text: str) -> Any:
    stripped = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", stripped, re.DOTALL)
    for candidate in (stripped, fenced.group(1).strip() if fenced else None):
        if candidate:
            try:
                return json.loads(candidate)
            except ValueError:
                pass
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[\[{]", text):
        try:
            return decoder.raw_decode(text, m.start())[0]
        except ValueError:
            continue
    raise ValueError("no JSON value found in the answer")


def json_output(schema: Mapping[str, Any] | None = None) -> Parser:
    """A parser for the first JSON value in an answer (code fences allowed), checked against a JSON schema."""
    validator: Any = None
    if schema is not None:
        import jsonschema

        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise InvalidInput(f"invalid JSON schema: {e.message}", details={"path": list(e.path)}) from e
        validator = cls(schema)

    def parse(text: str) -> Any:
        value = _first_json(text)
        if validator is not None:
            error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
            if error is not None:
                where = "/".join(str(p) for p in error.path) or "the top level"
                raise ValueError(f"the JSON does not match the schema at {where}: {error.message}")
        return value

    return parse


def regex_output(pattern: str, *, group: int | str = 0, flags: int = 0) -> Parser:
    """A parser returning ``group`` of the first match of ``pattern`` (the whole match by default)."""
    try:
        compiled = re.compile(pattern, flags)
    except re.error as e:
        raise InvalidInput(
            f"invalid regular expression {pattern!r}: {e}", details={"pattern": pattern}
        ) from e

    def parse(text: str) -> Any:
        m = compiled.search(text)
        if m is None:
            raise ValueError(f"the answer does not match /{pattern}/")
        return m.group(group)

    return parse


@dataclass
class StepResult:
    name: str
    output: Any
    attempts: int = 1


@dataclass
class ChainResult:
    output: Any
    state: dict[str, Any]
    steps: list[StepResult]
    trace_id: str


@dataclass
class PromptStep:
    name: str
    prompt: Renderable
    parse: Parser | None = None
    retries: int = 2
    repair: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    variables: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    generate: Generate | None = None
    output: str | None = None

    def run(self, state: dict[str, Any], generate: Generate | None) -> StepResult:
        gen = self.generate or generate
        if gen is None:
            raise InvalidInput(
                f"step {self.name!r} has no generate function (give one to the step or the chain)"
            )
        names = self.prompt.variable_names
        values = self.variables(state) if self.variables else {k: v for k, v in state.items() if k in names}
        rendered = self.prompt.format(values)
        params = {**rendered.params, **self.params}
        model = params.pop("model", None)
        messages = list(rendered.messages)
        error: Exception | None = None
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            attrs = {
                **model_call_attributes(model, params),
                semconv.LLMLOOP_PROMPT: rendered.ref,
                semconv.LLMLOOP_ATTEMPT: attempt,
                semconv.GEN_AI_INPUT_MESSAGES: messages_json(messages),
            }
            with span(f"chat {model or 'model'}", attributes=attrs, kind="client") as call:
                text = str(gen(messages, **params))
                call.set_attribute(
                    semconv.GEN_AI_OUTPUT_MESSAGES, messages_json([{"role": "assistant", "content": text}])
                )
                if self.parse is None:
                    return StepResult(self.name, text, attempt)
                try:
                    return StepResult(self.name, self.parse(text), attempt)
                except ValueError as e:
                    error = e
                    call.add_event("parse_failed", {"error": str(e)})
                    call.set_status("error", f"parse failed: {e}")
            if self.repair:
                messages += [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": REPAIR_MESSAGE.format(error=error)},
                ]
        raise ParseFailed(
            f"step {self.name!r}: the model's answer could not be parsed after {attempts} attempts: {error}",
            details={"step": self.name, "attempts": attempts},
        )


@dataclass
class FunctionStep:
    name: str
    fn: Callable[[dict[str, Any]], Any]
    output: str | None = None

    def run(self, state: dict[str, Any], generate: Generate | None) -> StepResult:
        return StepResult(self.name, self.fn(state))


Step = PromptStep | FunctionStep


def _attr_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class Chain:
    def __init__(
        self,
        name: str,
        steps: Sequence[Step],
        *,
        generate: Generate | None = None,
        project: str | None = None,
    ) -> None:
        if not steps:
            raise InvalidInput(f"chain {name!r} has no steps")
        seen: set[str] = set()
        for step in steps:
            if step.name in seen:
                raise InvalidInput(
                    f"chain {name!r} has two steps named {step.name!r}", details={"step": step.name}
                )
            seen.add(step.name)
        self.name = name
        self.steps = list(steps)
        self.generate = generate
        self.project = project

    def run(self, **inputs: Any) -> ChainResult:
        state = dict(inputs)
        results: list[StepResult] = []
        root_attrs = {semconv.LLMLOOP_CHAIN: self.name, semconv.LLMLOOP_INPUT: _attr_json(inputs)}
        with span(f"chain {self.name}", attributes=root_attrs, project=self.project) as root:
            for step in self.steps:
                with span(f"step {step.name}", attributes={semconv.LLMLOOP_STEP: step.name}) as sp:
                    result = step.run(state, self.generate)
                    sp.set_attribute(semconv.LLMLOOP_OUTPUT, _attr_json(result.output))
                    sp.set_attribute(semconv.LLMLOOP_ATTEMPT, result.attempts)
                state[step.output or step.name] = result.output
                results.append(result)
            root.set_attribute(semconv.LLMLOOP_OUTPUT, _attr_json(results[-1].output))
        return ChainResult(output=results[-1].output, state=state, steps=results, trace_id=root.trace_id)
