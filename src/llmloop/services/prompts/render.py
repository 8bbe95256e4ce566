"""Compiled prompt versions: check the variables, pick few-shot examples, render OpenAI-style messages.

A version is compiled once and cached by content (versions are immutable), so rendering
costs a dict check plus joining strings. Compiling also validates the whole version —
syntax, the few-shot set-up and a trial render with sample values that trips the sandbox's
limits — which is how a bad template is refused before it is registered.

A name the templates use but ``variables`` does not declare is inferred as a required string
(as MLflow and Langfuse do): ``"{{ month }}"`` alone is a complete prompt. Declared variables
keep their types; declaring is how a prompt takes an integer, a list or a default.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from llmloop.errors import InvalidInput
from llmloop.services.prompts.embeddings import Embedder, default_embedder
from llmloop.services.prompts.fewshot import ExampleSource, Selector, TokenCounter, approx_tokens, fit_budget
from llmloop.services.prompts.schemas import (
    FewShot,
    Message,
    PromptParams,
    PromptVersion,
    RenderedPrompt,
    Variable,
)
from llmloop.services.prompts.templating import CompiledTemplate, compile_template
from llmloop.services.prompts.variables import VariableChecker, infer_variables

MESSAGE_OVERHEAD_TOKENS = 3  # role and separators, roughly what chat templates add per message
_CACHE_SIZE = 512
_cache: OrderedDict[tuple[str, str], CompiledPrompt] = OrderedDict()
_cache_lock = threading.Lock()


def default_cache_dir() -> Path:
    from llmloop.config import get_settings

    return get_settings().home / "cache" / "fewshot"


class CompiledPrompt:
    def __init__(
        self,
        *,
        ref: str,
        messages: Sequence[Message] | None,
        template: str | None,
        variables: Mapping[str, Variable],
        params: PromptParams,
        few_shot: FewShot | None,
        embedder: Callable[[], Embedder] = default_embedder,
    ) -> None:
        self.ref = ref
        self.kind: Literal["chat", "text"] = "chat" if messages is not None else "text"
        self.params: dict[str, Any] = params.model_dump(exclude_none=True)
        if messages is not None:
            self.parts = [
                (m.role, compile_template(m.content, where=f"messages[{i}]")) for i, m in enumerate(messages)
            ]
        else:
            self.parts = [("user", compile_template(template or "", where="template"))]
        used = frozenset().union(*(part.names for _, part in self.parts))
        # the declared variables plus those inferred from the templates: what a stored version records
        self.variables = infer_variables(
            variables, used - {few_shot.variable} if few_shot is not None else used
        )
        self.checker = VariableChecker(self.variables)
        fast = [(role, part.fast) for role, part in self.parts]
        self._fast = (
            [(r, f) for r, f in fast if f is not None] if all(f is not None for _, f in fast) else None
        )
        self.lead = next(
            (i for i, (role, _) in enumerate(self.parts) if role not in {"system", "developer"}), 0
        )
        self.few_shot = few_shot
        self.selector = Selector(few_shot, embedder=embedder) if few_shot is not None else None
        self.example_parts: list[tuple[str, CompiledTemplate]] = (
            [
                (m.role, compile_template(m.content, where=f"few_shot.messages[{i}]"))
                for i, m in enumerate(few_shot.messages or [])
            ]
            if few_shot is not None
            else []
        )
        self._validate()

    @property
    def variable_names(self) -> frozenset[str]:
        return self.checker.names

    # -- validation -------------------------------------------------------------------------
    def _validate(self) -> None:
        fs = self.few_shot
        if fs is not None:
            if fs.variable in self.checker.names:
                raise InvalidInput(
                    f"few_shot.variable {fs.variable!r} is also a declared variable; rename one",
                    details={"variable": fs.variable},
                )
            if fs.query_variable is not None and fs.query_variable not in self.checker.names:
                raise InvalidInput(
                    f"few_shot.query_variable {fs.query_variable!r} is not a declared variable",
                    details={"variable": fs.query_variable},
                )
            if self.example_parts and self.kind == "text":
                raise InvalidInput(
                    "few_shot.messages is for chat prompts; a text template loops over "
                    f"{{{{ {fs.variable} }}}} itself",
                    details={"field": "few_shot.messages"},
                )
            self._validate_examples(fs)
        self._trial_render()

    def _validate_examples(self, fs: FewShot) -> None:
        needed = set().union(*(part.names for _, part in self.example_parts))
        for i, example in enumerate(fs.examples):
            for name in sorted(needed - set(example)):
                raise InvalidInput(
                    f"few-shot example {i} has no field {name!r}, which few_shot.messages uses",
                    details={"example": i, "field": name},
                )
            if fs.strategy == "semantic" and not isinstance(example.get(fs.key), str):
                raise InvalidInput(
                    f"few-shot example {i} has no text field {fs.key!r} to embed",
                    details={"example": i, "field": fs.key},
                )

    def _trial_render(self) -> None:
        """Render once with sample values so constant bombs (huge ranges, 'x' * 10**9) are refused now."""
        examples = list(self.few_shot.examples[: self.few_shot.k or 3]) if self.few_shot else []
        try:
            self._messages(self.checker.samples(), examples)
        except InvalidInput as e:
            if e.details.get("reason") in {"limit", "sandbox"}:
                raise
            # other failures depend on real values (an index into an empty sample list, …)

    # -- rendering ---------------------------------------------------------------------------
    def _messages(
        self, values: dict[str, Any], examples: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, str]]:
        if self.few_shot is not None:
            values = {**values, self.few_shot.variable: [dict(e) for e in examples]}
        out = [{"role": role, "content": part.render(values)} for role, part in self.parts]
        if self.example_parts and examples:
            shots = [
                {"role": role, "content": part.render(dict(example))}
                for example in examples
                for role, part in self.example_parts
            ]
            out[self.lead : self.lead] = shots
        return out

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """OpenAI-style messages; a text prompt is one user message."""
        if self.selector is None:
            values = self.checker.check(variables)
            if self._fast is not None:
                try:
                    return [{"role": role, "content": fmt.format_map(values)} for role, fmt in self._fast]
                except KeyError:
                    pass  # an optional variable without a value: the template path names it
            return [{"role": role, "content": part.render(values)} for role, part in self.parts]
        return self.format(variables).messages

    def render_text(self, **variables: Any) -> str:
        """The rendered text of a text prompt."""
        if self.kind != "text":
            raise InvalidInput(f"{self.ref} is a chat prompt; use render() for its messages")
        return self.render(**variables)[0]["content"]

    def format(
        self,
        variables: Mapping[str, Any],
        *,
        context_window: int | None = None,
        count_tokens: TokenCounter | None = None,
        example_source: ExampleSource | None = None,
        cache_dir: Path | None = None,
    ) -> RenderedPrompt:
        """Render with everything reported: messages, params, the examples used and those dropped."""
        values = self.checker.check(variables)
        examples: Sequence[Mapping[str, Any]] = []
        dropped = 0
        tokens: int | None = None
        fs = self.few_shot
        if self.selector is not None and fs is not None:
            ranked = self.selector.select(
                values, source=example_source, cache_dir=cache_dir or default_cache_dir()
            )
            window = context_window or fs.context_window
            if fs.max_tokens is not None or window is not None:
                count = count_tokens or approx_tokens

                def measure(exs: Sequence[Mapping[str, Any]]) -> int:
                    return sum(
                        count(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in self._messages(values, exs)
                    )

                n, tokens = fit_budget(
                    ranked,
                    measure,
                    max_tokens=fs.max_tokens,
                    context_window=window,
                    reserve=int(self.params.get("max_tokens", 0)),
                )
                examples, dropped = ranked[:n], len(ranked) - n
            else:
                examples = ranked
        messages = self._messages(values, examples)
        return RenderedPrompt(
            ref=self.ref,
            kind=self.kind,
            messages=messages,
            text=messages[0]["content"] if self.kind == "text" else None,
            params=dict(self.params),
            examples=[dict(e) for e in examples],
            examples_dropped=dropped,
            prompt_tokens=tokens,
        )


def compile_version(version: PromptVersion) -> CompiledPrompt:
    """The compiled form of a stored version, from the process-wide cache (keyed by content)."""
    key = (version.content_hash, version.ref)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    compiled = CompiledPrompt(
        ref=version.ref,
        messages=version.messages,
        template=version.template,
        variables=version.variables,
        params=version.params,
        few_shot=version.few_shot,
    )
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled
