"""The one masking function (``config.mask_secrets``) over every credential form, and every setting shown."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from llmloop.cli import cli
from llmloop.config import Settings, is_sensitive_name, mask_secrets, reset_settings
from llmloop.validation import format_validation_error

SECRET = "hunter2XYZ"
FORMS = [
    f"postgresql://bob:{SECRET}@db:5432/x",
    f"postgresql://bob:p@ss{SECRET}@db/x",  # an unescaped '@' in the password
    f"https://{SECRET}@github.com/org/repo",  # a lone token as userinfo
    f"http://h/v1?api-version=2&api_key={SECRET}",
    f"http://h/v1?password={SECRET}&x=1",
    f"s3://b/k?X-Amz-Signature={SECRET}&X-Amz-Credential={SECRET}",
    f"https://acct.blob.core.windows.net/c?sv=2021&sig={SECRET}",
    f"Authorization: Bearer {SECRET}",
    f"host=db user=x password={SECRET}",
    f"upstream http://u:{SECRET}@h:1/v1 answered HTTP 500: boom",
    f"a key llk_0123abcd_{SECRET}aaaaaaaaaaaa",
    f"sent sk-{SECRET}",
]


@pytest.mark.parametrize("text", FORMS)
def test_every_credential_form_is_masked(text: str) -> None:
    shown = mask_secrets(text)
    assert SECRET not in shown and "****" in shown


@pytest.mark.parametrize(
    "text",
    ["sqlite:///a/b.db", "http://127.0.0.1:8000/v1", "s3://bucket/prefix", "a monkey sat", "max tokens 12"],
)
def test_what_holds_no_credential_is_left_alone(text: str) -> None:
    assert mask_secrets(text) == text


def test_sensitive_names() -> None:
    assert all(is_sensitive_name(n) for n in ("password", "api_key_env", "X-Amz-Signature", "token"))
    assert not any(is_sensitive_name(n) for n in ("model", "base_url", "timeout_s"))


# every string setting, given a credential in every form a URL or value can carry one
_SETTINGS_ENV = {
    "LLMLOOP_DATABASE_URL": f"postgresql://u:{SECRET}@h/db?sslpassword={SECRET}",
    "LLMLOOP_ARTIFACTS_URL": f"s3://b/p?X-Amz-Signature={SECRET}",
    "LLMLOOP_SERVER_URL": f"https://tok{SECRET}@llmloop.example/?token={SECRET}",
    "LLMLOOP_API_KEY": f"llk_0123abcd_{SECRET}",
    "LLMLOOP_EXECUTOR": f"ray://u:{SECRET}@head:10001",
    "LLMLOOP_UPSTREAM_URL_ALLOW": f"https://x:{SECRET}@api.example/v1",
}


def test_settings_walked_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """``public_dict`` shows every field (so a new one cannot be forgotten) and none leaks."""
    for k, v in _SETTINGS_ENV.items():
        monkeypatch.setenv(k, v)
    shown = Settings().public_dict()
    assert set(shown) == set(Settings.model_fields)
    assert SECRET not in json.dumps(shown)
    assert shown["api_key"] == "****"


@pytest.mark.parametrize("as_json", [True, False])
def test_config_show_masks_every_form(monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    for k, v in _SETTINGS_ENV.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    try:
        out = CliRunner().invoke(cli, ["config", "show", *(["--json"] if as_json else [])])
    finally:
        monkeypatch.undo()
        reset_settings()
    assert out.exit_code == 0, out.output
    assert SECRET not in out.output and "****" in out.output
    assert "llmloop.example" in out.output  # masked, not dropped


def test_validation_errors_never_echo_a_credential() -> None:
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class M(BaseModel):
        model_config = ConfigDict(extra="forbid")
        url: str = Field(pattern=r"^https://")
        api_key_env: str = Field(pattern=r"^[A-Z_]+$")

    for bad in (
        {"url": f"ftp://u:{SECRET}@h", "api_key_env": "A"},
        {"url": "https://h", "api_key_env": SECRET},
    ):
        with pytest.raises(ValidationError) as e:
            M.model_validate(bad)
        msg = format_validation_error(e.value, model=M).message
        assert SECRET not in msg, msg
