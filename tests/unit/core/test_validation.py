"""The one config-error formatter: key paths, did-you-mean, missing keys, Pydantic's tags dropped."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmloop.config import get_settings, reset_settings
from llmloop.errors import InvalidInput
from llmloop.validation import KeyProblem, format_validation_error


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    options: dict[str, int] = Field(default_factory=dict)


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    metrics: list[Option | Literal["bleu"]] = Field(default_factory=list)
    source: Source | str | None = None
    size: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _rule(self) -> Doc:
        if self.name == "clash":
            raise KeyProblem("metrics", "a suite called 'clash' needs no metrics")
        return self


def problem(data: object, **kw: object) -> InvalidInput:
    with pytest.raises(ValidationError) as info:
        Doc.model_validate(data)
    return format_validation_error(info.value, where="s.yaml", model=Doc, details={"file": "s.yaml"}, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message", "details"),
    [
        (
            {"name": "x", "metrics": [{"name": "m", "optons": {}}]},
            "s.yaml: unknown key 'metrics[0].optons'; did you mean 'metrics[0].options'?",
            {"file": "s.yaml", "key": "metrics[0].optons", "did_you_mean": "metrics[0].options"},
        ),
        (
            {"name": "x", "source": {"pth": "a"}},
            "s.yaml: unknown key 'source.pth'; did you mean 'source.path'?",
            {"file": "s.yaml", "key": "source.pth", "did_you_mean": "source.path"},
        ),
        (
            {"name": "x", "zzz": 1},
            "s.yaml: unknown key 'zzz'; valid keys here: metrics, name, size, source",
            {"file": "s.yaml", "key": "zzz"},
        ),
        ({"size": 1}, "s.yaml: missing key 'name'", {"file": "s.yaml", "key": "name"}),
        (
            {"name": "x", "size": 0},
            "s.yaml: size: Input should be greater than 0 (got '0')",
            {"file": "s.yaml", "key": "size"},
        ),
        (
            {"name": "clash"},
            "s.yaml: metrics: a suite called 'clash' needs no metrics",
            {"file": "s.yaml", "key": "metrics"},
        ),
    ],
)
def test_the_first_problem_names_its_key_path(data: object, message: str, details: dict[str, str]) -> None:
    err = problem(data)
    assert (err.message, err.details) == (message, details)


def test_synonyms_and_more_problems_and_field_details() -> None:
    assert problem({"name": "x", "sz": 2}, synonyms={"sz": "size"}).details["did_you_mean"] == "size"
    with pytest.raises(ValidationError) as info:
        Doc.model_validate({"size": "big"})
    err = format_validation_error(info.value, model=Doc, detail_name="field")
    assert err.message == "missing key 'name'" and err.details == {"field": "name"}
    with pytest.raises(ValidationError) as info:
        Doc.model_validate({"name": "x", "size": "big"})
    err = format_validation_error(info.value)
    assert (
        err.message
        == "size: Input should be a valid integer, unable to parse string as an integer (got 'big')"
    )


def test_a_bad_setting_is_invalid_input_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_FLUSH_INTERVAL_S", "-1")
    reset_settings()
    try:
        with pytest.raises(
            InvalidInput, match=r"LLMLOOP_\* settings: flush_interval_s: Input should be greater"
        ):
            get_settings()
    finally:
        monkeypatch.delenv("LLMLOOP_FLUSH_INTERVAL_S")
        reset_settings()
