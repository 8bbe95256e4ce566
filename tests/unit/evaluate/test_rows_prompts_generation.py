"""Plain-input paths of the seams (JSONL rows, inline prompts, few-shot, py: models) and batched generation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from llmloop.context import local_context
from llmloop.errors import InvalidInput, NotFound, Unavailable
from llmloop.services.evaluate.generation import Completion, generate_all
from llmloop.services.evaluate.seams import (
    load_generator,
    load_rows,
    read_jsonl,
    render_prompts,
    row_from_record,
)
from llmloop.services.evaluate.suite import FieldMap, parse_suite


def test_bad_jsonl_lines_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(InvalidInput, match=r"d.jsonl:3: malformed JSON") as err:
        read_jsonl(p)
    assert err.value.details["line"] == 3
    p.write_text("[1, 2]\n")
    with pytest.raises(InvalidInput, match=r"d\.jsonl:1: expected a JSON object, got array"):
        read_jsonl(p)
    with pytest.raises(InvalidInput, match="file not found"):  # a file is input, as `data add` says
        read_jsonl(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    "record",
    [
        {"prompt": "Quiet beach?", "chosen": "Menorca", "rejected": "Ibiza"},  # TRL's standard form
        {  # the conversational form, as `feedback export --as preference` writes it
            "prompt": [{"role": "user", "content": "Quiet beach?"}],
            "chosen": [{"role": "assistant", "content": "Menorca"}],
            "rejected": [{"role": "assistant", "content": "Ibiza"}],
        },
    ],
)
def test_preference_rows_are_asked_their_prompt_and_scored_against_the_chosen_answer(
    record: dict[str, Any],
) -> None:
    row = row_from_record(record, FieldMap(), where="x")
    assert row.messages == [{"role": "user", "content": "Quiet beach?"}]
    assert row.reference == ["Menorca"] and "rejected" not in row.variables
    with pytest.raises(InvalidInput, match="x: field 'chosen' must end with an assistant message"):
        row_from_record({**record, "chosen": [{"role": "user", "content": "?"}]}, FieldMap(), where="x")


def test_row_fields_ids_references_and_messages() -> None:
    row = row_from_record(
        {"question": "q?", "answer": ["a", "b"], "metadata": {"k": 1}}, FieldMap(), where="x"
    )
    assert row.reference == ["a", "b"] and row.metadata == {"k": 1} and row.variables == {"question": "q?"}
    assert len(row.id) == 16  # content hash: stable across runs and file orders
    same = row_from_record({"answer": ["a", "b"], "question": "q?"}, FieldMap(), where="x")
    assert same.id == row.id
    chat = row_from_record(
        {"id": 7, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        FieldMap(),
        where="x",
    )
    assert (
        chat.id == "7"
        and chat.messages == [{"role": "user", "content": "hi"}]
        and chat.reference == ["hello"]
    )
    with pytest.raises(InvalidInput, match="reference must be a string"):
        row_from_record({"reference": 3}, FieldMap(), where="x")


def _suite(tmp_path: Path, rows: list[str], **extra: Any) -> Any:
    (tmp_path / "d.jsonl").write_text("\n".join(rows) + "\n")
    return parse_suite(
        {"name": "s", "dataset": "d.jsonl", "metrics": ["exact_match"], **extra}, base_dir=tmp_path
    )


def test_inline_template_few_shot_and_duplicate_ids(tmp_path: Path) -> None:
    ctx = local_context()
    (tmp_path / "shots.jsonl").write_text('{"q": "1+1", "a": "2"}\n{"q": "2+2", "a": "4"}\n')
    suite = _suite(
        tmp_path,
        ['{"q": "3+3", "a": "6"}', '{"q": "3+3", "a": "6"}'],
        prompt={
            "template": "Q: {q}",
            "system": "Be brief.",
            "few_shot": {"path": "shots.jsonl", "k": 2, "fields": {"reference": "a"}},
        },
    )
    suite.dataset.fields.reference = "a"
    rows = load_rows(ctx, suite.dataset, project="p", base=suite)
    assert rows[1].id == rows[0].id + "#2"
    messages = render_prompts(ctx, suite, rows, project="p")[0]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[-1] == {"role": "user", "content": "Q: 3+3"}
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert {m["content"] for m in messages if m["role"] == "assistant"} == {"2", "4"}


def test_template_missing_field_names_the_example(tmp_path: Path) -> None:
    ctx = local_context()
    suite = _suite(tmp_path, ['{"id": "r1", "q": "x", "reference": "y"}'], prompt={"template": "{question}"})
    rows = load_rows(ctx, suite.dataset, project="p", base=suite)
    with pytest.raises(InvalidInput, match=r"example r1: the prompt uses \{question\}"):
        render_prompts(ctx, suite, rows, project="p")


def test_without_a_prompt_rows_need_messages_or_a_prompt_field(tmp_path: Path) -> None:
    ctx = local_context()
    suite = _suite(tmp_path, ['{"prompt": "hi", "reference": "x"}', '{"other": 1, "reference": "x"}'])
    rows = load_rows(ctx, suite.dataset, project="p", base=suite)
    with pytest.raises(InvalidInput, match="has no 'messages'"):
        render_prompts(ctx, suite, rows, project="p")
    assert render_prompts(ctx, suite, rows[:1], project="p") == [[{"role": "user", "content": "hi"}]]


def test_registered_references_go_through_their_service(tmp_path: Path) -> None:
    """Without the datasets/prompts/models services a reference says which service is missing; with them,
    an unknown name is NotFound. Either way nothing is guessed."""
    import importlib.util

    ctx = local_context()
    expected: tuple[type[Exception], ...] = (
        (Unavailable,)
        if importlib.util.find_spec("llmloop.services.registry") is None
        else (NotFound, Unavailable)
    )
    with pytest.raises(expected, match=r"model registry|not found|no model"):
        load_generator(ctx, "models:travel@1", project="p")
    suite = parse_suite({"name": "s", "dataset": {"ref": "travel-eval"}, "metrics": ["bleu"]})
    with pytest.raises((Unavailable, NotFound), match=r"datasets|not found"):
        load_rows(ctx, suite.dataset, project="p")


def test_py_model_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_models.py").write_text(
        "def upper(batch, **params):\n    return [m[-1]['content'].upper() for m in batch]\n"
        "class Echo:\n    def __call__(self, batch, **params):\n        return [m[-1]['content'] for m in batch]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx = local_context()
    loaded = load_generator(ctx, "py:my_models:upper")
    assert loaded.ref == "py:my_models:upper" and loaded.version_id is None
    assert loaded.generate([[{"role": "user", "content": "hi"}]]) == ["HI"]
    assert load_generator(ctx, "py:my_models:Echo").generate([[{"role": "user", "content": "x"}]]) == ["x"]
    with pytest.raises(NotFound, match="cannot import"):
        load_generator(ctx, "py:my_models:nope")
    with pytest.raises(InvalidInput):
        load_generator(ctx, "py:my_models")
    sys.modules.pop("my_models", None)


def _prompt(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_a_failing_batch_is_retried_one_by_one_and_isolates_bad_examples() -> None:
    calls: list[int] = []

    def gen(batch: list[Any], **params: Any) -> list[Any]:
        calls.append(len(batch))
        if any("bad" in m[-1]["content"] for m in batch):
            raise RuntimeError("cannot answer 'bad'")
        return [Completion(m[-1]["content"] + "!", prompt_tokens=3, completion_tokens=1) for m in batch]

    out = generate_all(gen, [_prompt("a"), _prompt("bad"), _prompt("c"), _prompt("d")], batch_size=3)
    assert [o.text for o in out] == ["a!", None, "c!", "d!"]
    assert out[1].error is not None and "cannot answer" in out[1].error
    assert out[0].completion_tokens == 1 and out[0].latency_ms >= 0
    assert calls == [3, 1, 1, 1, 1]


def test_wrong_answer_counts_and_types_become_errors() -> None:
    out = generate_all(lambda batch, **p: ["only one"], [_prompt("a"), _prompt("b")], batch_size=2)
    assert [o.text for o in out] == ["only one", "only one"]  # retried singly: each call answers one
    out = generate_all(lambda batch, **p: [42] * len(batch), [_prompt("a")])
    assert out[0].text is None and "expected str" in (out[0].error or "")
    out = generate_all(lambda batch, **p: [Completion("", error="rate limited")] * len(batch), [_prompt("a")])
    assert out[0].error == "rate limited"


def test_progress_is_reported_per_batch() -> None:
    seen: list[tuple[int, int]] = []
    generate_all(
        lambda b, **p: ["x"] * len(b),
        [_prompt("a")] * 5,
        batch_size=2,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]  # (0, total) first: a sign of life before batch 1
