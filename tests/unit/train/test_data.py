"""Training rows: kinds checked per method, bad lines named FILE:LINE, chats shaped for answer-only loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmloop.context import local_context
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.train.config import DatasetSpec
from llmloop.services.train.data import (
    LoadedDataset,
    load_dataset,
    preference_rows,
    prompt_messages,
    prompted,
    require_kind,
    sft_rows,
    split_eval,
)

CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye"},
    ]
}


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def load(path: Path) -> LoadedDataset:
    return load_dataset(local_context(), DatasetSpec(path=str(path)), key="data.train", project="default")


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        ({"text": "x"}, "text"),
        ({"prompt": "p", "completion": "c"}, "prompt_completion"),
        (CHAT, "chat"),
        ({"prompt": "p", "chosen": "a", "rejected": "b"}, "preference"),
        ({"input": "i", "reference": "r", "metadata": {"k": 1}}, "eval"),
        ({"prompt": "p"}, "prompt"),
    ],
)
def test_kinds_are_detected(tmp_path: Path, row: dict[str, Any], kind: str) -> None:
    ds = load(write(tmp_path / "d.jsonl", [row, row]))
    assert ds.kind == kind and len(ds.rows) == 2 and ds.entity_type == "artifact" and len(ds.entity_id) == 64


def test_wrong_kind_for_method_names_the_key(tmp_path: Path) -> None:
    ds = load(write(tmp_path / "d.jsonl", [CHAT]))
    require_kind(ds, "sft")
    with pytest.raises(InvalidInput) as info:
        require_kind(ds, "dpo")
    assert info.value.details == {"key": "data.train", "kind": "chat", "method": "dpo"}
    assert "holds chat rows; method 'dpo' needs preference rows" in info.value.message


@pytest.mark.parametrize(
    ("lines", "where", "fragment"),
    [
        ([CHAT, "{not json"], ":2", "malformed JSON"),
        ([CHAT, {"text": "x"}], ":2", "not a chat row like the first one"),
        ([{"prompt": "p", "completion": 3}], ":1", "'completion' must be a string"),
        ([{"messages": [{"role": "wizard", "content": "x"}]}], ":1", "messages[0].role is 'wizard'"),
        (
            [{"prompt": "p", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}],
            ":1",
            "end with an assistant",
        ),
        ([{"question": "q", "answer": "a"}], ":1", "match no dataset kind"),
        (["[1, 2]"], ":1", "expected a JSON object"),
    ],
)
def test_bad_rows_are_named_by_file_and_line(
    tmp_path: Path, lines: list[Any], where: str, fragment: str
) -> None:
    path = write(tmp_path / "d.jsonl", lines)
    with pytest.raises(InvalidInput) as info:
        load(path)
    assert info.value.message.startswith(f"{path}{where}: ") and fragment in info.value.message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="holds no rows"):
        load(write(tmp_path / "e.jsonl", []))
    with pytest.raises(InvalidInput, match="file not found"):
        load(tmp_path / "missing.jsonl")


def test_unknown_dataset_reference_names_the_config_key() -> None:
    """The reference goes through the dataset registry; an unknown one is NotFound naming the key path."""
    with pytest.raises(NotFound) as info:
        load_dataset(local_context(), DatasetSpec(ref="travel-sft@1"), key="data.train", project="default")
    assert info.value.message.startswith("data.train:")


def test_chat_becomes_one_prompt_completion_pair_per_assistant_turn(tmp_path: Path) -> None:
    ds = load(write(tmp_path / "d.jsonl", [CHAT]))
    rows = sft_rows(ds, chat=True, system_prompt=None, answer_only=True)
    assert [r["completion"] for r in rows] == [
        [{"role": "assistant", "content": "Hello"}],
        [{"role": "assistant", "content": "Goodbye"}],
    ]
    assert [m["content"] for m in rows[1]["prompt"]] == ["Be brief.", "Hi", "Hello", "Bye"]
    assert sft_rows(ds, chat=True, system_prompt=None, answer_only=False) == [{"messages": CHAT["messages"]}]


def test_string_rows_become_chats_with_the_system_prompt(tmp_path: Path) -> None:
    pc = load(write(tmp_path / "pc.jsonl", [{"prompt": "Q", "completion": "A"}]))
    (row,) = sft_rows(pc, chat=True, system_prompt="S", answer_only=True)
    assert row == {
        "prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
        "completion": [{"role": "assistant", "content": "A"}],
    }
    ev = load(write(tmp_path / "ev.jsonl", [{"input": "Q", "reference": "A"}]))
    assert sft_rows(ev, chat=False, system_prompt=None, answer_only=True) == [
        {"prompt": "Q", "completion": "A"}
    ]
    pref = load(write(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "A", "rejected": "B"}]))
    (p,) = preference_rows(pref, chat=True, system_prompt="S")
    assert p["prompt"][0] == {"role": "system", "content": "S"} and p["rejected"] == [
        {"role": "assistant", "content": "B"}
    ]
    assert prompt_messages(load(write(tmp_path / "c.jsonl", [CHAT])), system_prompt="S")[0][-1] == {
        "role": "user",
        "content": "Bye",
    }


def test_eval_split_is_seeded_and_independent_of_order() -> None:
    rows = [{"text": f"row {i}"} for i in range(200)]
    train, held = split_eval(rows, 0.2, seed=1)
    _, held2 = split_eval(list(reversed(rows)), 0.2, seed=1)
    assert sorted(r["text"] for r in held) == sorted(r["text"] for r in held2)
    assert 20 <= len(held) <= 60 and len(train) + len(held) == 200
    assert {r["text"] for r in split_eval(rows, 0.2, seed=2)[1]} != {r["text"] for r in held}
    with pytest.raises(InvalidInput, match="leaves no eval"):
        split_eval(rows[:2], 0.01, seed=1)


def test_dpo_reads_the_standard_and_the_conversational_form_alike(tmp_path: Path) -> None:
    standard = load(write(tmp_path / "s.jsonl", [{"prompt": "Q", "chosen": "A", "rejected": "B"}]))
    turns = {
        "prompt": [{"role": "user", "content": "Q"}],
        "chosen": [{"role": "assistant", "content": "A"}],
        "rejected": [{"role": "assistant", "content": "B"}],
    }
    conversational = load(write(tmp_path / "c.jsonl", [turns]))
    assert standard.rows == conversational.rows == [{**turns, "metadata": None}]
    for chat in (True, False):
        assert preference_rows(standard, chat=chat, system_prompt=None) == preference_rows(
            conversational, chat=chat, system_prompt=None
        )
    assert preference_rows(standard, chat=False, system_prompt=None) == [
        {"prompt": "Q", "chosen": "A", "rejected": "B"}
    ]
    multi = load(
        write(
            tmp_path / "m.jsonl",
            [{**turns, "prompt": [{"role": "system", "content": "S"}, *turns["prompt"]]}],
        )
    )
    with pytest.raises(
        InvalidInput, match="row 1: a multi-turn preference pair needs a tokenizer with a chat"
    ):
        preference_rows(multi, chat=False, system_prompt=None)


def test_prompted_rows_are_rendered_by_the_prompt_and_answered_by_the_reference(tmp_path: Path) -> None:
    rows = [{"input": "Beach?", "reference": "Nice", "options": "- Nice\n- Oslo", "metadata": {"task": "t"}}]
    ds = load(write(tmp_path / "eval.jsonl", rows))
    seen: list[dict[str, Any]] = []

    def render(variables: Any) -> list[dict[str, str]]:
        seen.append(dict(variables))
        return [{"role": "user", "content": f"{variables['input']} {variables['options']}"}]

    chats = prompted(ds, render)
    assert chats.kind == "chat" and chats.source == ds.source  # lineage still names the dataset
    assert seen == [{"input": "Beach?", "options": "- Nice\n- Oslo", "task": "t"}]
    assert chats.rows[0]["messages"] == [
        {"role": "user", "content": "Beach? - Nice\n- Oslo"},
        {"role": "assistant", "content": "Nice"},
    ]


def test_prompted_refuses_rows_that_are_not_eval_rows(tmp_path: Path) -> None:
    ds = load(write(tmp_path / "chat.jsonl", [CHAT]))
    with pytest.raises(InvalidInput) as e:
        prompted(ds, lambda v: [])
    assert e.value.details["key"] == "data.prompt" and "eval rows" in e.value.message
