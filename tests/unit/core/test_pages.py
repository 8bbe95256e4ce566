"""Page tokens: opaque, bound to their listing, and refused by name when they are not one."""

from __future__ import annotations

import base64

import pytest

from llmloop.errors import InvalidInput
from llmloop.store import pages


def test_tokens_round_trip_keys_and_offsets() -> None:
    token = pages.encode("traces", after=(1712.25, "ab" * 16))
    assert "=" not in token and pages.decode(token, "traces", key_types=(float, str)).after == (
        1712.25,
        "ab" * 16,
    )
    assert pages.decode(pages.encode("traces", after=(3, "x")), "traces", key_types=(float, str)).after == (
        3,
        "x",
    )
    assert pages.decode(pages.encode("runs", offset=40), "runs") == pages.Cursor(offset=40)
    assert pages.decode(None, "runs") == pages.decode("", "runs") == pages.Cursor()


@pytest.mark.parametrize(
    "token",
    [
        "!!",  # not base64
        base64.urlsafe_b64encode(b"40").decode(),  # the old offset tokens: a number, not a cursor
        pages.encode("runs", offset=1),  # another listing's
        pages.encode("traces", offset=1),  # an offset where a key is due
        pages.encode("traces", after=("late", "x")),  # a key of the wrong types
        pages.encode("traces", after=(True, "x")),
        pages.encode("traces", after=(1.0,)),  # too short
    ],
)
def test_a_bad_token_is_invalid_input_naming_the_parameter(token: str) -> None:
    with pytest.raises(InvalidInput, match="invalid page_token: not a token that this traces listing") as err:
        pages.decode(token, "traces", key_types=(float, str))
    assert err.value.details == {"field": "page_token"}


def test_a_negative_offset_is_refused() -> None:
    with pytest.raises(InvalidInput):
        pages.decode(pages.encode("runs", offset=-1), "runs")
