"""PII detectors: each kind found where it is, look-alikes left alone, placeholders typed."""

from __future__ import annotations

import re

import pytest

from llmloop.services.data import pii

POSITIVES = [
    ("email", "write to ana.silva@example.pt today", "ana.silva@example.pt"),
    ("email", "x+tag@sub.domain.co.uk", "x+tag@sub.domain.co.uk"),
    ("phone", "call +351 912 345 678 now", "+351 912 345 678"),
    ("phone", "US office (555) 123-4567", "(555) 123-4567"),
    ("phone", "mobile 06 12 34 56 78", "06 12 34 56 78"),
    ("credit_card", "card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
    ("credit_card", "amex 378282246310005", "378282246310005"),
    ("credit_card", "mc 5555-5555-5555-4444", "5555-5555-5555-4444"),
    ("iban", "pay DE89 3704 0044 0532 0130 00 THEN", "DE89 3704 0044 0532 0130 00"),
    ("iban", "GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("ip", "from 192.168.1.20 today", "192.168.1.20"),
    ("ip", "v6 2001:db8::8a2e:370:7334 here", "2001:db8::8a2e:370:7334"),
    ("national_id", "SSN 123-45-6789", "123-45-6789"),
    ("national_id", "NINO AB 12 34 56 C", "AB 12 34 56 C"),
    ("national_id", "DNI 12345678Z", "12345678Z"),
    ("national_id", "NIR 1 84 12 76 451 089 46", "1 84 12 76 451 089 46"),
    ("secret", "key sk-proj-abcdefghijklmnopqrstuvwxyz123456", "sk-proj-abcdefghijklmnopqrstuvwxyz123456"),
    ("secret", "aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("secret", "gh ghp_" + "a1B2" * 9, "ghp_" + "a1B2" * 9),
    ("secret", "hf hf_" + "Ab3dE" * 7, "hf_" + "Ab3dE" * 7),
    ("secret", "token Zx8Kq2Lm9Pw4Rt7Yv3Nb6Hc1Df5", "Zx8Kq2Lm9Pw4Rt7Yv3Nb6Hc1Df5"),
    (
        "secret",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    ),
]

NEGATIVES = [
    "card 4111 1111 1111 1112 fails Luhn",
    "4111111111111112",
    "IBAN DE89 3704 0044 0532 0130 01 has a wrong check",
    "SSN 000-12-3456 and 666-12-3456 are never issued",
    "DNI 12345678A has the wrong letter",
    "on 2024-06-01, version 2.1.3, price 1 200 EUR, id 123456",
    "not an ip 999.1.1.1 and a time 10:30:00",
    "a git sha 3f786850e387550fdab836ed7e6dc881de23001b",
    "CamelCaseIdentifierWithoutDigits and snake_case_identifier_names_here",
    "user@localhost is not an address with a domain",
]


@pytest.mark.parametrize(("kind", "text", "value"), POSITIVES)
def test_detects_each_kind(kind: str, text: str, value: str) -> None:
    found = pii.scan(text)
    assert [(f.kind, text[f.start : f.end]) for f in found] == [(kind, value)]
    assert re.search(pii.PREFILTER, text), "the prefilter must let every positive through"


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_not_flagged(text: str) -> None:
    assert pii.scan(text) == []
    assert pii.redact(text) == text


def test_redact_uses_typed_placeholders() -> None:
    text = "Mail ana@example.com, call +1 (555) 123-4567, card 4111 1111 1111 1111, SSN 123-45-6789."
    assert pii.redact(text) == "Mail <EMAIL>, call <PHONE>, card <CREDIT_CARD>, SSN <NATIONAL_ID>."


def test_only_requested_kinds_are_redacted() -> None:
    text = "ana@example.com from 10.0.0.1"
    assert pii.redact(text, kinds=["ip"]) == "ana@example.com from <IP>"
    with pytest.raises(ValueError, match="unknown PII kind"):
        pii.scan(text, kinds=["passport"])


def test_overlaps_go_to_the_stronger_kind() -> None:
    # an SSN also matches the phone pattern; national_id wins and is reported once
    assert [f.kind for f in pii.scan("id 123-45-6789")] == ["national_id"]


def test_counts_and_findings_never_hold_the_value() -> None:
    counts = pii.count("a@b.io c@d.io 10.0.0.1")
    assert counts == {"email": 2, "ip": 1}
    assert all(not hasattr(f, "value") for f in pii.scan("a@b.io"))


def test_luhn_and_iban_checks() -> None:
    assert pii.luhn_ok("79927398713") and not pii.luhn_ok("79927398710")
    assert pii.iban_ok("GB82WEST12345698765432") and not pii.iban_ok("GB82WEST12345698765431")
