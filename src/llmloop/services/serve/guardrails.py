"""Per-deployment guardrails on the way in (PII, blocked patterns, prompt size, prompt injection)
and on the way out (PII, response size, JSON-schema validity). Every decision is returned so the
gateway records it on the trace.

PII detection is a pluggable list of detectors (``DETECTORS``: name → compiled pattern). The
datasets work brings ``llmloop.services.data.pii``; it is not in this tree yet, so a simple email and
phone detector live here and the lead can register the shared ones in ``DETECTORS`` at merge.
Token counts are estimates (words and punctuation), good enough for bounds, not for billing.

``fail_closed`` decides what happens when an output rule cannot be satisfied (invalid JSON for
the schema): refuse the answer (closed) or pass it on with the violation recorded (open).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmloop.errors import InvalidInput, LlmloopError

DETECTORS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "phone": re.compile(
        r"(?<![\w+])(?:\+?\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{3}[ .-]?\d{3,4}[ .-]?\d{0,4}(?!\w)"
    ),
}
_TOKEN = re.compile(r"\w+|[^\w\s]")

# (pattern, weight): each match raises the score as 1 - Π(1 - weight)
INJECTION_PATTERNS: list[tuple[re.Pattern[str], float]] = [
    (
        re.compile(
            r"\b(ignore|disregard|forget)\b.{0,40}\b(previous|prior|above|earlier|all)\b.{0,20}\b(instructions?|rules?|prompts?)",
            re.I | re.S,
        ),
        0.8,
    ),
    (
        re.compile(
            r"\b(reveal|print|show|repeat)\b.{0,30}\b(system prompt|instructions|hidden prompt)", re.I | re.S
        ),
        0.6,
    ),
    (re.compile(r"\byou are now\b|\bact as\b.{0,20}\b(unfiltered|jailbroken|dan)\b", re.I | re.S), 0.5),
    (re.compile(r"\b(jailbreak|developer mode|do anything now)\b", re.I), 0.5),
    (re.compile(r"</?(system|assistant)>|\[/?INST\]|<\|im_start\|>", re.I), 0.4),
]


class GuardrailFailed(LlmloopError):
    """The model's answer broke an output rule and the deployment fails closed."""

    code = "guardrail_failed"
    http_status = 422


class GuardrailSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pii: Literal["off", "redact", "block"] = "off"
    pii_detectors: list[str] = Field(default_factory=lambda: ["email", "phone"])
    pii_output: bool = Field(False, description="Also redact PII in answers (when pii is 'redact').")
    blocked_patterns: list[str] = Field(
        default_factory=list, max_length=100, description="Regexes refused in prompts."
    )
    max_prompt_tokens: int | None = Field(None, ge=1)
    max_response_tokens: int | None = Field(None, ge=1, description="Caps max_tokens sent to the model.")
    output_json_schema: dict[str, Any] | None = None
    injection_threshold: float | None = Field(
        None, gt=0, le=1, description="Refuse prompts scoring at least this."
    )
    fail_closed: bool = True

    @field_validator("blocked_patterns")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"blocked pattern {p!r}: {e}") from None
        return v

    @field_validator("pii_detectors")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(DETECTORS))
        if unknown:
            raise ValueError(f"unknown PII detectors {unknown}; known: {sorted(DETECTORS)}")
        return v

    @field_validator("output_json_schema")
    @classmethod
    def _schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(v)
            except jsonschema.SchemaError as e:
                raise ValueError(f"output_json_schema is not a JSON schema: {e.message}") from None
        return v

    @property
    def active(self) -> bool:
        return self != _DEFAULT


_DEFAULT = GuardrailSpec()


@dataclass
class Decisions:
    """What the guardrails did, recorded as span attributes and events."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    injection_score: float = 0.0

    def add(self, name: str, **attrs: Any) -> None:
        self.events.append((name, attrs))


def estimate_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def injection_score(text: str) -> float:
    miss = 1.0
    for pattern, weight in INJECTION_PATTERNS:
        if pattern.search(text):
            miss *= 1.0 - weight
    return round(1.0 - miss, 4)


def redact(text: str, detectors: list[str]) -> tuple[str, dict[str, int]]:
    found: dict[str, int] = {}
    for name in detectors:
        text, n = DETECTORS[name].subn(f"[{name.upper()}]", text)
        if n:
            found[name] = n
    return text, found


def _texts(body: dict[str, Any]) -> list[tuple[dict[str, Any] | list[Any], str | int, str]]:
    """(holder, key, text) for every prompt string in a chat or completion body: string contents,
    the text parts of list contents, a string prompt or each string of a list prompt."""
    out: list[tuple[dict[str, Any] | list[Any], str | int, str]] = []
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            out.append((m, "content", content))
        elif isinstance(content, list):
            out += [
                (p, "text", p["text"])
                for p in content
                if isinstance(p, dict) and isinstance(p.get("text"), str)
            ]
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        out.append((body, "prompt", prompt))
    elif isinstance(prompt, list):
        out += [(prompt, i, p) for i, p in enumerate(prompt) if isinstance(p, str)]
    return out


def _copied(body: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough that redacting it leaves the caller's body as it was."""
    out = dict(body)
    if isinstance(body.get("messages"), list):
        out["messages"] = [
            {**m, "content": [dict(p) if isinstance(p, dict) else p for p in m["content"]]}
            if isinstance(m, dict) and isinstance(m.get("content"), list)
            else dict(m)
            if isinstance(m, dict)
            else m
            for m in body["messages"]
        ]
    if isinstance(body.get("prompt"), list):
        out["prompt"] = list(body["prompt"])
    return out


def check_input(spec: GuardrailSpec, body: dict[str, Any]) -> tuple[dict[str, Any], Decisions]:
    """The body to send (redacted, max_tokens capped) and the decisions; ``InvalidInput`` when refused."""
    d = Decisions()
    body = _copied(body)
    texts = _texts(body)
    joined = "\n".join(t for _, _, t in texts)
    for p in spec.blocked_patterns:
        if re.search(p, joined):
            d.add("guardrail.blocked_pattern", pattern=p)
            raise InvalidInput(
                "prompt refused by a guardrail: blocked pattern", details={"guardrail": "blocked_pattern"}
            )
    if spec.max_prompt_tokens is not None:
        n = estimate_tokens(joined)
        if n > spec.max_prompt_tokens:
            d.add("guardrail.max_prompt_tokens", tokens=n, limit=spec.max_prompt_tokens)
            raise InvalidInput(
                f"prompt refused by a guardrail: about {n} tokens, limit {spec.max_prompt_tokens}",
                details={"guardrail": "max_prompt_tokens"},
            )
    if spec.injection_threshold is not None:
        d.injection_score = injection_score(joined)
        d.add("guardrail.injection", score=d.injection_score, threshold=spec.injection_threshold)
        if d.injection_score >= spec.injection_threshold:
            raise InvalidInput(
                f"prompt refused by a guardrail: prompt-injection score {d.injection_score}",
                details={"guardrail": "prompt_injection", "score": d.injection_score},
            )
    if spec.pii != "off":
        total: dict[str, int] = {}
        for holder, key, text in texts:
            clean, found = redact(text, spec.pii_detectors)
            for k, v in found.items():
                total[k] = total.get(k, 0) + v
            if found:
                holder[key] = clean  # type: ignore[index]
        if total:
            d.add("guardrail.pii", action=spec.pii, **total)
            if spec.pii == "block":
                raise InvalidInput(
                    f"prompt refused by a guardrail: personal data ({', '.join(sorted(total))})",
                    details={"guardrail": "pii"},
                )
    if spec.max_response_tokens is not None:
        asked = body.get("max_tokens")
        capped = min(asked, spec.max_response_tokens) if isinstance(asked, int) else spec.max_response_tokens
        if capped != asked:
            d.add("guardrail.max_response_tokens", asked=asked, capped=capped)
        body["max_tokens"] = capped
    return body, d


def check_output(spec: GuardrailSpec, out: dict[str, Any], d: Decisions) -> dict[str, Any]:
    """The answer after output rules; ``GuardrailFailed`` when it breaks one and the deployment fails closed."""
    raw = out.get("choices")
    choices = raw if isinstance(raw, list) else []
    for ch in choices:
        msg = ch.get("message") if isinstance(ch, dict) else None
        holder, key = (msg, "content") if isinstance(msg, dict) else (ch, "text")
        text = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(text, str) or not isinstance(holder, dict):
            continue
        if spec.pii == "redact" and spec.pii_output:
            clean, found = redact(text, spec.pii_detectors)
            if found:
                holder[key] = text = clean
                d.add("guardrail.pii_output", **found)
        if spec.output_json_schema is not None:
            import jsonschema

            try:
                jsonschema.validate(json.loads(text), spec.output_json_schema)
                d.add("guardrail.json_schema", valid=True)
            except (ValueError, jsonschema.ValidationError) as e:
                reason = e.message if isinstance(e, jsonschema.ValidationError) else "not JSON"
                d.add("guardrail.json_schema", valid=False, reason=reason[:500], fail_closed=spec.fail_closed)
                if spec.fail_closed:
                    raise GuardrailFailed(
                        f"answer refused by a guardrail: output does not match the JSON schema ({reason[:200]})",
                        details={"guardrail": "json_schema"},
                    ) from None
    return out
