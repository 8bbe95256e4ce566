"""Instruction-following checks driven by each row's metadata, for sanity suites.

A row says what its answer must look like in ``metadata["check"]`` (plus the check's arguments);
``instruction_following`` scores 1 when the answer obeys, 0 when not. Rows may also list accepted
answers in ``metadata["answer"]``; ``instruction_answer`` scores those rows on content (normalised
exact match after the format is stripped) and leaves the others unscored.

    one_word                        a single word (trailing punctuation allowed)
    max_words      n                at most n words
    json_keys      keys             a JSON object with exactly these keys
    json_list      n                a JSON list of n items
    regex          pattern          the whole answer matches
    uppercase / lowercase           every letter in that case
    starts_with    prefix           begins with prefix (case-insensitive)
    bullets        n                exactly n lines starting with "-" or "*"
    number                          a bare number
    yes_no                          "yes" or "no"
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from llmloop.services.evaluate.metrics.matching import normalize_answer
from llmloop.services.evaluate.metrics.task import TaskMetric

_WORD = re.compile(r"^[\w'-]+[.!]?$")
_NUMBER = re.compile(r"^[-+]?\d+(?:[.,]\d+)?\.?$")


def _json(text: str) -> Any:
    body = text.strip()
    fenced = re.match(r"^```[a-zA-Z]*\s*\n(.*?)\n?```$", body, re.DOTALL)
    if fenced:
        body = fenced.group(1).strip()
    return json.loads(body)


def _json_keys(answer: str, meta: Mapping[str, Any]) -> bool:
    try:
        obj = _json(answer)
    except ValueError:
        return False
    return isinstance(obj, dict) and sorted(obj) == sorted(meta["keys"])


def _json_list(answer: str, meta: Mapping[str, Any]) -> bool:
    try:
        obj = _json(answer)
    except ValueError:
        return False
    return isinstance(obj, list) and len(obj) == int(meta["n"])


def _bullets(answer: str, meta: Mapping[str, Any]) -> bool:
    lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
    return len(lines) == int(meta["n"]) and all(ln[:1] in "-*•" for ln in lines)


CHECKS: dict[str, Callable[[str, Mapping[str, Any]], bool]] = {
    "one_word": lambda a, m: bool(_WORD.match(a.strip())),
    "max_words": lambda a, m: 0 < len(a.split()) <= int(m["n"]),
    "json_keys": _json_keys,
    "json_list": _json_list,
    "regex": lambda a, m: re.fullmatch(str(m["pattern"]), a.strip(), re.DOTALL) is not None,
    "uppercase": lambda a, m: any(c.isalpha() for c in a) and a == a.upper(),
    "lowercase": lambda a, m: any(c.isalpha() for c in a) and a == a.lower(),
    "starts_with": lambda a, m: a.strip().lower().startswith(str(m["prefix"]).lower()),
    "bullets": _bullets,
    "number": lambda a, m: bool(_NUMBER.match(a.strip())),
    "yes_no": lambda a, m: normalize_answer(a) in ("yes", "no"),
}


class InstructionFollowing(TaskMetric):
    """1 when the answer obeys the format its row asks for (metadata.check: one_word, json_keys, bullets, ...)."""

    name = "instruction_following"
    parameters = ("metadata",)

    def score_one(self, prediction: str, **kwargs: Any) -> Any:
        meta: Mapping[str, Any] = kwargs["metadata"]
        check = CHECKS.get(str(meta.get("check")))
        if check is None:
            raise ValueError(f"unknown check {meta.get('check')!r}; known: {', '.join(CHECKS)}")
        return check(prediction, meta)


class InstructionAnswer(TaskMetric):
    """For rows with metadata.answer: 1 when the normalised answer is one of the accepted ones; others unscored."""

    name = "instruction_answer"
    parameters = ("metadata",)

    def score_one(self, prediction: str, **kwargs: Any) -> Any:
        accepted = kwargs["metadata"].get("answer")
        if accepted is None:
            return None
        options = [accepted] if isinstance(accepted, str) else list(accepted)
        text = prediction.strip()
        try:  # a JSON answer is judged on its values
            obj = _json(text)
            if isinstance(obj, dict):
                text = " ".join(str(v) for v in obj.values())
        except ValueError:
            pass
        got = normalize_answer(text)
        return any(got == normalize_answer(str(o)) for o in options)
