"""Durations and points in time as people type them: ``30d``, ``12h``, ``2024-05-01``, unix seconds."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from llmloop.errors import InvalidInput

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")


def parse_duration(text: str, *, flag: str) -> float:
    m = _DURATION.fullmatch(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise InvalidInput(
            f"{flag}: expected a duration like 45m, 12h, 30d or 2w, got {text!r}", details={"flag": flag}
        )
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_since(text: str, *, flag: str = "--since") -> float:
    """A duration back from now (``24h``), an ISO date or datetime (UTC unless it says), or unix seconds."""
    text = text.strip()
    if _DURATION.fullmatch(text):
        return time.time() - parse_duration(text, flag=flag)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{flag}: expected 24h / 7d, an ISO date like 2024-05-01, or unix seconds; got {text!r}",
            details={"flag": flag},
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
