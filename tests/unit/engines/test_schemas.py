"""Requests validate like OpenAI's and fail as InvalidInput naming the field; chunks fold into full responses."""

from __future__ import annotations

from typing import Any

import pytest

from llmloop.engines import generation, schemas
from llmloop.errors import InvalidInput

MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": ""}, "stop"),
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logit_bias": {"1": 5}}, "logit_bias"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"truncation": "sometimes"}, "truncation"),
    ],
)
def test_bad_chat_fields_are_invalid_input_naming_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput) as e:
        schemas.ChatRequest(messages=MSG, **fields)
    assert named in e.value.message
    with pytest.raises(InvalidInput):  # the gateway's path
        schemas.ChatRequest.model_validate({"messages": MSG, **fields})


def test_messages_required_and_roles_checked() -> None:
    with pytest.raises(InvalidInput, match="messages"):
        schemas.ChatRequest(messages=[])
    with pytest.raises(InvalidInput, match="role"):
        schemas.ChatRequest(messages=[{"role": "wizard", "content": "x"}])
    with pytest.raises(InvalidInput, match="image_url"):
        schemas.ChatRequest(messages=[{"role": "user", "content": [{"type": "image_url"}]}]).message_dicts()


def test_openai_extras_accepted_and_defaults_filled() -> None:
    req = schemas.ChatRequest(
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
        ],
        max_completion_tokens=7,
        stop="END",
        user="u1",
        tools=None,
        seed=3,
        stream=True,
    )
    assert req.message_dicts() == [{"role": "user", "content": "ab"}]
    s = req.sampling()
    assert (s.max_tokens, s.stop, s.seed, s.greedy) == (7, ["END"], 3, False)
    assert schemas.ChatRequest(messages=MSG, temperature=0).sampling().greedy
    assert schemas.ChatRequest(messages=MSG).sampling().max_tokens == schemas.DEFAULT_MAX_TOKENS


def test_completion_and_embedding_requests() -> None:
    assert schemas.CompletionRequest(prompt=["one"]).prompt_text() == "one"
    with pytest.raises(InvalidInput, match="one prompt"):
        schemas.CompletionRequest(prompt=["a", "b"])
    assert schemas.EmbeddingRequest(input="x").inputs() == ["x"]
    with pytest.raises(InvalidInput, match="encoding_format"):
        schemas.EmbeddingRequest(input="x", encoding_format="base64")


def test_stop_scanner_holds_back_partial_matches_and_cuts_at_the_stop() -> None:
    sc = generation.StopScanner(["###", "END"])
    out = [sc.feed(t) for t in ["Hello ", "wor", "ld #", "#", "# more"]]
    assert "".join(out) == "Hello world "
    assert sc.stopped and sc.feed("x") == "" and sc.flush() == ""
    sc2 = generation.StopScanner(["###"])
    assert sc2.feed("a #") == "a" and sc2.flush() == " #"


def test_text_pieces_stops_usage_and_utf8() -> None:
    vocab = {1: "Hel", 2: "lo", 3: "\xe2", 4: " STOP", 5: "!"}

    def decode(ids: list[int]) -> str:
        text = "".join(vocab[i] for i in ids)
        return text.replace("\xe2", "\ufffd") if ids[-1] == 3 else text.replace("\xe2", "é")

    pieces = list(
        generation.text_pieces([1, 2, 3, 5, 4, 5, ("end", "length")], decode, ["STOP"], prompt_tokens=9)
    )
    assert "".join(p.text for p in pieces) == "Helloé! "
    last = pieces[-1]
    assert (last.finish_reason, last.prompt_tokens, last.completion_tokens) == ("stop", 9, 5)
    assert "\ufffd" not in "".join(p.text for p in pieces)
    full = list(generation.text_pieces([1, 2, ("end", "length")], decode, [], prompt_tokens=1))
    assert "".join(p.text for p in full) == "Hello" and full[-1].finish_reason == "length"


def test_chunks_fold_into_full_responses_with_usage() -> None:
    pieces = [generation.Piece("Hel"), generation.Piece("lo"), generation.Piece("", "stop", 4, 2)]
    chunks = list(generation.chat_chunks("m@1", pieces))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage is not None and chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    full = schemas.collect_chat(iter(chunks))
    assert full.choices[0].message.content == "Hello" and full.usage.total_tokens == 6
    dumped = chunks[1].model_dump(mode="json", exclude_none=True)
    assert dumped["object"] == "chat.completion.chunk" and "usage" not in dumped
    text = schemas.collect_completion(generation.completion_chunks("m@1", pieces))
    assert text.choices[0].text == "Hello" and text.choices[0].finish_reason == "stop"


def test_context_policy_errors_or_truncates_explicitly() -> None:
    s = schemas.ChatRequest(messages=MSG, max_tokens=50).sampling()
    ids, budget = generation.fit_context(list(range(30)), s, 64)
    assert len(ids) == 30 and budget == 34  # the answer gets the room left
    with pytest.raises(InvalidInput, match=r"70 tokens .* context length is 64") as e:
        generation.fit_context(list(range(70)), s, 64)
    assert e.value.details["prompt_tokens"] == 70
    auto = schemas.ChatRequest(messages=MSG, max_tokens=50, truncation="auto").sampling()
    ids, budget = generation.fit_context(list(range(70)), auto, 64)
    assert ids == list(range(38, 70)) and budget == 32  # oldest tokens dropped, room for half the context


def test_unsupported_fields_are_model_fields_so_a_filtering_gateway_still_refuses_them() -> None:
    body = {"messages": MSG, "tools": [{"type": "function"}], "max_completion_tokens": 9}
    fields = {k: v for k, v in body.items() if k in schemas.ChatRequest.model_fields}
    with pytest.raises(InvalidInput, match="tool calling"):
        schemas.ChatRequest.model_validate(fields)
    ok = schemas.ChatRequest.model_validate(
        {"messages": MSG, "max_completion_tokens": 9, "best_of": 1, "logprobs": False}
    )
    assert ok.sampling().max_tokens == 9
    dumped = ok.model_dump(exclude_none=True)
    assert "tools" not in dumped
