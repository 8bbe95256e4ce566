"""Scoring a model's travel answer against the rule-based ground truth in an eval row's metadata.

``recommendation_correct`` is the task metric ``travel_recommendation_correctness``: 1.0 when the
first destination the answer recommends is one of ``metadata["acceptable"]``. The parser reads our
own two-line format first and falls back to the ways small models actually phrase a choice
("I recommend Zermatt", "**Recommendation:** zermatt", a bare name), so the metric measures the
choice rather than formatting luck. ``constraint_satisfaction`` gives partial credit: the fraction of
the stated constraints the chosen destination meets.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import BY_NAME, DESTINATIONS
from llmloop.examples.travel.rules import Preferences, violations

CORRECTNESS_METRIC = "travel_recommendation_correctness"
CONSTRAINT_METRIC = "travel_constraint_satisfaction"

_FORMAT_LINE = re.compile(r"recommendation[*_\s]*[:\-\u2013\u2014][*_\s]*([^\n]*)", re.IGNORECASE)
_CONVERSATIONAL = re.compile(
    r"\b(?:i(?:'d|\s+would)?\s+(?:strongly\s+|highly\s+)?(?:recommend|suggest)"
    r"|my\s+(?:top\s+)?(?:pick|choice|recommendation|suggestion)\s+(?:is|would\s+be)"
    r"|(?:best|top)\s+(?:match|option|choice|fit|pick)\s+(?:is|would\s+be)"
    r"|you\s+should\s+(?:go\s+to|visit|choose|pick)|go\s+(?:to|with))\b[:\s]*([^\n]*)",
    re.IGNORECASE,
)
_FILLER = re.compile(r"^(?:visiting|a\s+trip\s+to|going\s+to|heading\s+to|the|to)\s+", re.IGNORECASE)
_NAME_END = re.compile(
    r"[,.;:!?()\[\]\n]|\s[-\u2013\u2014]\s|\s(?:because|since|as|which|for)\s", re.IGNORECASE
)
_MAX_RAW_WORDS = 5


def _norm(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form, padded with spaces for whole-word search."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " " + " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split()) + " "


def _first_known(text: str, names: Iterable[str]) -> str | None:
    """The known name mentioned earliest in ``text`` (whole words; the longest wins a tie)."""
    haystack = _norm(text)
    hits = [(pos, -len(name), name) for name in names if (pos := haystack.find(_norm(name))) >= 0]
    return min(hits)[2] if hits else None


def _raw_name(segment: str) -> str | None:
    """A name-like phrase at the start of ``segment`` when it names nothing we know."""
    cleaned = _FILLER.sub("", segment.strip(" \t*_\"'`>#"))
    head = _NAME_END.split(cleaned, maxsplit=1)[0].strip(" \t*_\"'`")
    return head if head and any(c.isalpha() for c in head) and len(head.split()) <= _MAX_RAW_WORDS else None


def parse_recommendation(text: str, names: Iterable[str] | None = None) -> str | None:
    """The first destination ``text`` recommends, as written in the catalog when it is a known name.

    Order: a ``Recommendation: X`` line; else the earliest "I recommend X"-style phrase; else the
    earliest known name anywhere. Within the found phrase a known name (catalog or ``names``) wins;
    otherwise the phrase's leading words are returned as written ("Atlantis"). ``None`` when the text
    recommends nothing recognisable.
    """
    known = list(dict.fromkeys([*(d.name for d in DESTINATIONS), *(names or ())]))
    segments = [
        m.group(1) for m in (_FORMAT_LINE.search(text), _CONVERSATIONAL.search(text)) if m is not None
    ]
    for segment in segments:
        found = _first_known(segment, known)
        if found is not None:
            return found
        raw = _raw_name(segment)
        if raw is not None:
            return raw
    return _first_known(text, known)


def _metadata(metadata: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    acceptable = metadata.get("acceptable")
    if not isinstance(acceptable, list) or not all(isinstance(a, str) for a in acceptable):
        raise InvalidInput(
            "travel metadata needs 'acceptable', a list of destination names",
            details={"field": "metadata.acceptable"},
        )
    options = metadata.get("options") or []
    return acceptable, [o for o in options if isinstance(o, str)]


def recommendation_correct(prediction_text: str, metadata: Mapping[str, Any]) -> float:
    """1.0 when the first recommended destination is acceptable for this eval row, else 0.0."""
    acceptable, options = _metadata(metadata)
    chosen = parse_recommendation(prediction_text, [*options, *acceptable])
    if chosen is None:
        return 0.0
    return 1.0 if _norm(chosen) in {_norm(a) for a in acceptable} else 0.0


@dataclass(frozen=True)
class ConstraintCheck:
    """What the answer chose and which stated constraints that choice misses.

    ``violations`` uses the labels of ``rules.violations``, or ``("unparsed",)`` / ``("not_in_catalog",)``
    when there is no catalog destination to check.
    """

    destination: str | None
    violations: tuple[str, ...]
    satisfied_fraction: float


def check_constraints(prediction_text: str, metadata: Mapping[str, Any]) -> ConstraintCheck:
    """Partial-credit view of an answer: how many of the row's stated constraints its choice meets."""
    _, options = _metadata(metadata)
    raw_prefs = metadata.get("preferences")
    if not isinstance(raw_prefs, Mapping):
        raise InvalidInput("travel metadata needs 'preferences'", details={"field": "metadata.preferences"})
    prefs = Preferences.from_dict(raw_prefs)
    chosen = parse_recommendation(prediction_text, options)
    if chosen is None:
        return ConstraintCheck(None, ("unparsed",), 0.0)
    destination = BY_NAME.get(chosen)
    if destination is None:
        return ConstraintCheck(chosen, ("not_in_catalog",), 0.0)
    missed = violations(destination, prefs)
    return ConstraintCheck(chosen, missed, 1.0 - len(missed) / prefs.constraint_count)


def constraint_satisfaction(prediction_text: str, metadata: Mapping[str, Any]) -> float:
    """The metric ``travel_constraint_satisfaction``: fraction of stated constraints met, 0.0 if none parsed."""
    return check_constraints(prediction_text, metadata).satisfied_fraction
