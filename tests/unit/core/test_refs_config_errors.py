"""Pure core logic: reference grammar, settings masking, the error tree."""

from __future__ import annotations

import pytest

from llmloop.config import Settings, mask_secrets
from llmloop.errors import ERROR_CLASSES, InvalidInput, LlmloopError, NotFound, from_envelope
from llmloop.refs import Ref, parse_ref


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("travel", Ref("travel")),
        ("travel@3", Ref("travel", version=3)),
        ("travel@champion", Ref("travel", alias="champion")),
        ("smollm2-135m-instruct@production", Ref("smollm2-135m-instruct", alias="production")),
    ],
)
def test_parse_ref(text: str, ref: Ref) -> None:
    assert parse_ref(text) == ref
    assert str(parse_ref(text)) == text


@pytest.mark.parametrize(
    "bad", ["", "@3", "a@", "a@0", "../x", "a/b", "a@b@c", "a@-x", "x" * 200, "p\n", "a@b\n"]
)
def test_parse_ref_rejects(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_ref(bad)


def test_mask_secrets_hides_passwords() -> None:
    assert mask_secrets("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:****@db:5432/x"
    assert mask_secrets("sqlite:///a/b.db") == "sqlite:///a/b.db"


def test_settings_public_dict_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_DATABASE_URL", "postgresql://u:pw@h/db")
    monkeypatch.setenv("LLMLOOP_API_KEY", "llk_supersecret")
    shown = Settings().public_dict()
    assert "pw" not in str(shown) and "supersecret" not in str(shown)
    assert shown["api_key"] == "****"


def test_error_envelope_round_trip() -> None:
    for code, cls in ERROR_CLASSES.items():
        err = cls("boom", details={"file": "a.jsonl", "line": 3})
        back = from_envelope({"error": err.to_dict()})
        assert type(back) is cls and back.code == code and back.details["line"] == 3
    assert type(from_envelope({"error": {"code": "weird"}})) is LlmloopError
    assert NotFound.http_status == 404 and InvalidInput.exit_code == 2
