"""Find and redact personal data and secrets in text: a pure module (stdlib only) the gateway reuses.

Kinds and how each is confirmed after its pattern matches, so look-alikes are not flagged:

    email        local@domain.tld, no leading/trailing/double dots in the local part
    phone        7-15 digits with '+', parentheses or at least two separators; dates are not phones
    credit_card  13-19 digits, Luhn-valid, issuer digit 2-6, not one repeated digit
    iban         country code + check digits, length per country, ISO 7064 mod-97 == 1
    ip           IPv4 / IPv6 that ``ipaddress`` accepts
    national_id  US SSN (area/group/serial rules), UK NINO, Spanish DNI (check letter), French NIR (key)
    secret       known key prefixes (OpenAI, Anthropic, GitHub, AWS, Slack, Google, Hugging Face, Stripe,
                 GitLab, JWT, PEM private keys) and long high-entropy tokens

``scan(text)`` returns non-overlapping ``Finding``s (kind and span, never the matched value, so a
finding can be logged safely); ``redact(text)`` replaces each with a typed placeholder such as
``<EMAIL>``. ``PREFILTER`` is an RE2-compatible pattern that matches every text that could hold a
finding: vectorised callers (Arrow's ``match_substring_regex``) use it to send only candidate rows
to ``scan``, which is what keeps a profile of a million rows fast.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

KINDS: tuple[str, ...] = ("email", "phone", "credit_card", "iban", "ip", "national_id", "secret")
PLACEHOLDERS: dict[str, str] = {k: f"<{k.upper()}>" for k in KINDS}

# When two findings overlap, the kind listed first wins (an SSN also looks like a phone number).
PRIORITY: dict[str, int] = {
    k: i for i, k in enumerate(("secret", "credit_card", "iban", "national_id", "email", "ip", "phone"))
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


# --- validators --------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_ok(m: re.Match[str]) -> bool:
    digits = re.sub(r"[ -]", "", m.group())
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or len(set(digits)) == 1:
        return False
    seps = set(re.sub(r"\d", "", m.group()))
    return len(seps) <= 1 and luhn_ok(digits)


# IBAN lengths for the countries most often seen; others must be 15-34 characters.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24,
    "AT": 20,
    "BE": 16,
    "BG": 22,
    "CH": 21,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "EE": 20,
    "ES": 24,
    "FI": 18,
    "FR": 27,
    "GB": 22,
    "GR": 27,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IS": 26,
    "IT": 27,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MT": 31,
    "NL": 18,
    "NO": 15,
    "PL": 28,
    "PT": 25,
    "RO": 24,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "TR": 26,
    "AE": 23,
    "SA": 24,
    "IL": 23,
    "BR": 29,
}


def iban_ok(compact: str) -> bool:
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _iban_span(m: re.Match[str]) -> tuple[int, int] | None:
    """The span of a valid IBAN inside the (possibly over-long) match, or None."""
    raw = m.group()
    compact_positions = [i for i, ch in enumerate(raw) if ch != " "]
    compact = "".join(raw[i] for i in compact_positions)
    want = IBAN_LENGTHS.get(compact[:2])
    lengths = [want] if want else list(range(min(34, len(compact)), 14, -1))
    for n in lengths:
        if n is not None and len(compact) >= n and iban_ok(compact[:n]):
            return m.start(), m.start() + compact_positions[n - 1] + 1
    return None


def _ip_ok(m: re.Match[str]) -> bool:
    text = m.group()
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return False
    # "::" or "1::" alone are valid but are not what a person writes as an address
    return addr.version == 4 or sum(ch.isalnum() for ch in text) >= 4


# Shapes that are never phone numbers: dates, and the SSN layout (a valid SSN is a national_id already).
_NOT_PHONE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{3}-\d{2}-\d{4}")


def _phone_ok(m: re.Match[str]) -> bool:
    text = m.group()
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15 or _NOT_PHONE.fullmatch(text):
        return False
    if text.startswith("+") or "(" in text:
        return True
    groups = re.split(r"[ .-]+", text)
    return len(groups) >= 3


def _ssn_ok(m: re.Match[str]) -> bool:
    area, group, serial = m.group().split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _dni_ok(m: re.Match[str]) -> bool:
    text = m.group().replace("-", "")
    return _DNI_LETTERS[int(text[:8]) % 23] == text[8]


def _nir_ok(m: re.Match[str]) -> bool:
    text = m.group().replace(" ", "")
    body, key = text[:13], int(text[13:])
    body = body.replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == key


def shannon_entropy(text: str) -> float:
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _high_entropy_ok(m: re.Match[str]) -> bool:
    tok = m.group()
    classes = sum(
        (
            any(c.islower() for c in tok),
            any(c.isupper() for c in tok),
            any(c.isdigit() for c in tok),
        )
    )
    digits = sum(c.isdigit() for c in tok)
    return classes == 3 and digits >= 3 and shannon_entropy(tok) >= 4.0


# --- detectors ---------------------------------------------------------------------------------

Check = Callable[[re.Match[str]], "bool | tuple[int, int] | None"]


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    check: Check | None = None


_SECRET_PREFIXES = "|".join(
    (
        r"sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-)?[A-Za-z0-9_-]{20,}",
        r"gh[pousr]_[A-Za-z0-9]{36,}",
        r"github_pat_[A-Za-z0-9_]{22,}",
        r"(?:AKIA|ASIA)[0-9A-Z]{16}",
        r"xox[abposr]-[A-Za-z0-9-]{10,}",
        r"AIza[0-9A-Za-z_-]{35}",
        r"hf_[A-Za-z0-9]{30,}",
        r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
        r"glpat-[A-Za-z0-9_-]{20,}",
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    )
)

DETECTORS: tuple[Detector, ...] = (
    Detector(
        "secret",
        re.compile(
            r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----(?:[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY-----)?"
        ),
    ),
    Detector("secret", re.compile(rf"(?<![A-Za-z0-9_-])(?:{_SECRET_PREFIXES})")),
    Detector(
        "secret",
        re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{24,}(?![A-Za-z0-9+/_=-])"),
        _high_entropy_ok,
    ),
    Detector(
        "email",
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
            r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
        ),
        lambda m: ".." not in m.group().split("@")[0],
    ),
    Detector("credit_card", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _card_ok),
    Detector(
        "iban",
        re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"),
        _iban_span,
    ),
    Detector("national_id", re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), _ssn_ok),
    Detector(
        "national_id",
        re.compile(
            r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
            r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
        ),
    ),
    Detector("national_id", re.compile(r"(?<![A-Za-z0-9])\d{8}-?[A-Z](?![A-Za-z0-9])"), _dni_ok),
    Detector(
        "national_id",
        re.compile(r"(?<![\d])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}(?![\d])"),
        _nir_ok,
    ),
    Detector("ip", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)"), _ip_ok),
    Detector(
        "ip",
        re.compile(r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])"),
        _ip_ok,
    ),
    Detector(
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,5}(?![\w])"
        ),
        _phone_ok,
    ),
)

# RE2-compatible (no look-around): anything a detector could accept matches this somewhere.
PREFILTER = "|".join(
    (
        r"[A-Za-z0-9]@[A-Za-z0-9]",
        r"\d[ ().+-]{0,3}\d[ ().-]{0,3}\d[ ().-]{0,3}\d[ ().-]{0,3}\d[ ().-]{0,3}\d[ ().-]{0,3}\d",
        r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
        r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:",
        r"[0-9A-Fa-f]{1,4}::|::[0-9A-Fa-f]{1,4}",
        r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
        r"PRIVATE KEY",
        r"[A-Za-z0-9+/_=-]{20,}",
    )
)


def scan(text: str, kinds: Iterable[str] | None = None) -> list[Finding]:
    """Non-overlapping findings in ``text``, in order; higher-priority kinds win overlaps."""
    wanted = set(KINDS if kinds is None else kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown PII kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}")
    found: list[Finding] = []
    for det in DETECTORS:
        if det.kind not in wanted:
            continue
        for m in det.pattern.finditer(text):
            verdict = det.check(m) if det.check is not None else True
            if verdict is True:
                found.append(Finding(det.kind, m.start(), m.end()))
            elif isinstance(verdict, tuple):
                found.append(Finding(det.kind, verdict[0], verdict[1]))
    found.sort(key=lambda f: (PRIORITY[f.kind], f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for f in found:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: f.start)
    return kept


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """``text`` with every finding replaced by its placeholder (``<EMAIL>``, ``<CREDIT_CARD>``, …)."""
    findings = scan(text, kinds)
    if not findings:
        return text
    out: list[str] = []
    pos = 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(PLACEHOLDERS[f.kind])
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def count(text: str, kinds: Iterable[str] | None = None) -> Counter[str]:
    """How many findings of each kind ``text`` holds."""
    return Counter(f.kind for f in scan(text, kinds))
