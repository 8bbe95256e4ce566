"""Format checks: does the answer match a regular expression, parse as JSON, satisfy a JSON Schema?

Each example scores 1 (valid) or 0. Options are checked when the metric is built, so a bad
pattern or schema fails before any generation. ``allow_code_fence`` accepts JSON wrapped in a
Markdown code fence (```json … ```), which chat models add unasked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult

_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*?)\n?```$", re.DOTALL)


class Regex(Metric):
    """1 when the (stripped) answer matches ``pattern``: ``fullmatch`` (default), ``search`` or ``match``."""

    name = "regex"

    def __init__(
        self, *, pattern: str, mode: str = "fullmatch", flags: list[str] | None = None, strip: bool = True
    ) -> None:
        if mode not in ("fullmatch", "search", "match"):
            raise InvalidInput(
                f"regex: mode must be fullmatch, search or match, got {mode!r}", details={"option": "mode"}
            )
        bits = 0
        for f in flags or []:
            if f not in _FLAGS:
                raise InvalidInput(
                    f"regex: unknown flag {f!r}; use {', '.join(_FLAGS)}", details={"option": "flags"}
                )
            bits |= _FLAGS[f]
        try:
            self.regex = re.compile(pattern, bits)
        except re.error as e:
            raise InvalidInput(
                f"regex: invalid pattern {pattern!r}: {e}", details={"option": "pattern"}
            ) from e
        self.mode = mode
        self.strip = strip

    def compute(self, inputs: MetricInputs) -> MetricResult:
        match = getattr(self.regex, self.mode)
        scores = [float(match(p.strip() if self.strip else p) is not None) for p in inputs.predictions]
        return self.result_from_scores(scores, {"pattern": self.regex.pattern, "mode": self.mode})


def parse_json_answer(text: str, *, allow_code_fence: bool) -> tuple[bool, Any]:
    body = text.strip()
    if allow_code_fence:
        fenced = _FENCE.match(body)
        if fenced:
            body = fenced.group(1).strip()
    try:
        return True, json.loads(body)
    except ValueError:
        return False, None


class JsonValid(Metric):
    """1 when the answer is valid JSON (optionally inside a code fence)."""

    name = "json_valid"

    def __init__(self, *, allow_code_fence: bool = False) -> None:
        self.allow_code_fence = allow_code_fence

    def compute(self, inputs: MetricInputs) -> MetricResult:
        scores = [
            float(parse_json_answer(p, allow_code_fence=self.allow_code_fence)[0]) for p in inputs.predictions
        ]
        return self.result_from_scores(scores)


class JsonSchema(Metric):
    """1 when the answer is JSON valid against ``schema`` (a JSON Schema object, or a path to one)."""

    name = "json_schema"

    def __init__(self, *, schema: dict[str, Any] | str, allow_code_fence: bool = False) -> None:
        from jsonschema import exceptions, validators

        if isinstance(schema, str):
            path = Path(schema)
            try:
                schema = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise InvalidInput(
                    f"json_schema: cannot read schema {path}: {e}",
                    details={"option": "schema", "file": str(path)},
                ) from e
        if not isinstance(schema, dict):
            raise InvalidInput("json_schema: schema must be a JSON object", details={"option": "schema"})
        cls = validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except exceptions.SchemaError as e:
            raise InvalidInput(
                f"json_schema: invalid schema: {e.message}", details={"option": "schema"}
            ) from e
        self.validator = cls(schema)
        self.allow_code_fence = allow_code_fence

    def compute(self, inputs: MetricInputs) -> MetricResult:
        scores = []
        invalid_json = 0
        for p in inputs.predictions:
            ok, value = parse_json_answer(p, allow_code_fence=self.allow_code_fence)
            if not ok:
                invalid_json += 1
            scores.append(float(ok and self.validator.is_valid(value)))
        return self.result_from_scores(scores, {"invalid_json": invalid_json})
