"""Ingest without a store: formats, schema detection, mapping, canonical hashes, bad input."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmloop.errors import InvalidInput
from llmloop.services.data import formats
from llmloop.services.data.ingest import IngestOptions, IngestResult, ingest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "data"


def run(path: Path | str, tmp_path: Path, **opts: object) -> IngestResult:
    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    return ingest(formats.resolve_source(str(path)), IngestOptions(**opts), work)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "kind", "rows"),
    [
        ("chat.jsonl", "chat", 4),
        ("text.jsonl", "text", 3),
        ("prompt_completion.csv", "prompt_completion", 3),
        ("preference.json", "preference", 2),
        ("eval.jsonl", "eval", 3),
    ],
)
def test_each_format_and_kind_is_detected(tmp_path: Path, name: str, kind: str, rows: int) -> None:
    result = run(FIXTURES / name, tmp_path)
    assert (result.kind, result.rows, result.invalid_rows) == (kind, rows, 0)
    table = pq.read_table(result.data_path)
    assert table.num_rows == rows
    assert pq.read_table(result.index_path).num_rows == rows


def test_parquet_and_hf_dirs_give_the_same_version_as_jsonl(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "eval.jsonl").read_text().splitlines()]
    flat = [{**r, "metadata": json.dumps(r["metadata"])} for r in rows]
    pq.write_table(pa.Table.from_pylist(flat), tmp_path / "eval.parquet")
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(flat).save_to_disk(str(tmp_path / "eval_hf"))
    hashes = {
        run(p, tmp_path).content_hash
        for p in (FIXTURES / "eval.jsonl", tmp_path / "eval.parquet", tmp_path / "eval_hf")
    }
    assert len(hashes) == 1


def test_hf_dataset_dict_keeps_its_splits(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([{"text": "a"}, {"text": "b"}]),
            "test": datasets.Dataset.from_list([{"text": "a"}]),
        }
    )
    dd.save_to_disk(str(tmp_path / "dd"))
    result = run(tmp_path / "dd", tmp_path)
    assert result.profile.splits == {"test": 1, "train": 2}
    leak = {(p.a, p.b): (p.exact, p.key) for p in result.profile.leakage or []}
    assert leak == {("train", "test"): (1, 1)}  # "a" is in both: leakage found


def test_same_rows_in_any_format_or_key_order_hash_the_same(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"prompt": "p1", "completion": "c1"}\n{"completion": "c2", "prompt": "p2"}\n'
    )
    (tmp_path / "b.json").write_text(
        '[ {"prompt":"p1","completion":"c1"},\n  {"prompt":"p2","completion":"c2"} ]'
    )
    (tmp_path / "c.csv").write_text("completion,prompt\nc1,p1\nc2,p2\n")
    (tmp_path / "d.jsonl").write_text(
        '{"prompt": "p2", "completion": "c2"}\n{"prompt": "p1", "completion": "c1"}\n'
    )
    hashes = [run(tmp_path / n, tmp_path).content_hash for n in ("a.jsonl", "b.json", "c.csv", "d.jsonl")]
    assert hashes[0] == hashes[1] == hashes[2]
    assert hashes[3] != hashes[0]  # order is part of a version's content


def test_fast_and_record_paths_agree(tmp_path: Path) -> None:
    fast = run(FIXTURES / "chat.jsonl", tmp_path)
    slow = run(FIXTURES / "chat.jsonl", tmp_path, skip_invalid=True)  # --skip-invalid always reads records
    assert fast.fast_path and not slow.fast_path
    assert fast.content_hash == slow.content_hash
    assert fast.profile == slow.profile


def test_blank_line_hands_over_to_the_record_path(tmp_path: Path) -> None:
    result = run(FIXTURES / "text.jsonl", tmp_path)
    assert not result.fast_path and result.rows == 3


def test_mapping_renames_fields_and_extras_become_metadata(tmp_path: Path) -> None:
    result = run(FIXTURES / "questions.csv", tmp_path, mapping={"question": "prompt", "answer": "completion"})
    assert result.kind == "prompt_completion"
    rows = pq.read_table(result.data_path).to_pylist()
    assert rows[0]["prompt"] == "Best time to visit Lisbon?"
    assert json.loads(rows[1]["metadata"]) == {"region": "asia"}


def test_explicit_schema_with_missing_mapping_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"questions.csv:2: field 'prompt' is missing") as e:
        run(FIXTURES / "questions.csv", tmp_path, kind="prompt_completion")
    assert e.value.details == {"file": str(FIXTURES / "questions.csv"), "line": 2, "field": "prompt"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed.jsonl", r"malformed.jsonl:3: malformed JSON"),
        ("wrong_type.jsonl", r"wrong_type.jsonl:2: field 'completion' must be a string, got number"),
        ("missing_field.jsonl", r"missing_field.jsonl:2: field 'reference' is missing"),
        ("bad_role.jsonl", r"bad_role.jsonl:2: messages\[1\].role is 'wizard'"),
        ("mixed.jsonl", r"mixed.jsonl:2: mixed schemas: this row looks like prompt_completion"),
        ("invalid_utf8.jsonl", r"invalid_utf8.jsonl:2: invalid UTF-8"),
        ("empty.jsonl", r"empty.jsonl: nothing to add: it holds no rows"),
        ("broken_quote.csv", r"broken_quote.csv:3: .*never closed \(broken quote\)"),
        ("not_an_array.json", r"not_an_array.json:1: a .json file must hold one JSON array"),
    ],
)
def test_bad_input_is_a_clear_error_naming_file_and_line(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        run(FIXTURES / name, tmp_path)
    assert not any(p.is_file() for p in tmp_path.rglob("*")), "a failed ingest leaves no files"


def test_skip_invalid_counts_and_keeps_going(tmp_path: Path) -> None:
    result = run(FIXTURES / "malformed.jsonl", tmp_path, skip_invalid=True)
    assert (result.rows, result.invalid_rows) == (3, 1)
    assert (
        result.skipped[0].endswith("malformed.jsonl:3: malformed JSON: unexpected character")
        or ":3:" in result.skipped[0]
    )


def test_broken_quote_is_fatal_even_when_skipping(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="broken quote"):
        run(FIXTURES / "broken_quote.csv", tmp_path, skip_invalid=True)


def test_huge_line_is_refused_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("w") as fh:
        fh.write('{"text": "ok"}\n{"text": "')
        for _ in range(64):
            fh.write("x" * (1 << 20))  # a 64 MiB line
        fh.write('"}\n{"text": "after"}\n')
    tracemalloc.start()
    with pytest.raises(InvalidInput, match=r"huge.jsonl:2: line is longer than the limit of 1048576 bytes"):
        run(path, tmp_path, max_line_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak} bytes: the long line was buffered"
    result = run(path, tmp_path, max_line_bytes=1 << 20, skip_invalid=True)
    assert (result.rows, result.invalid_rows) == (2, 1)


def test_jsonl_reader_numbers_lines_across_chunks() -> None:
    data = b"".join(b'{"text": "%d"}\n' % i for i in range(100_000)) + b"\n" + b'{"text": "last"}'
    items = list(formats.iter_jsonl(formats.CountingReader(io.BytesIO(data), None), 1 << 20))
    assert len(items) == 100_001
    assert items[-1] == (100_002, {"text": "last"}, None)


def test_json_array_reader_rejects_trailing_comma() -> None:
    reader = formats.CountingReader(io.BytesIO(b'[{"text": "a"},\n]'), None)
    with pytest.raises(InvalidInput, match=r"x.json:2: a ',' before"):
        list(formats.iter_json_array(reader, 1 << 20, "x.json"))


def test_unknown_path_and_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="file not found"):
        formats.resolve_source(str(tmp_path / "nope.jsonl"))
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(InvalidInput, match="cannot tell the format"):
        formats.resolve_source(str(tmp_path / "data.txt"))


def test_glob_and_gzip_sources(tmp_path: Path) -> None:
    import gzip

    for i in range(2):
        with gzip.open(tmp_path / f"part-{i}.jsonl.gz", "wt") as fh:
            fh.write(json.dumps({"text": f"row {i}"}) + "\n")
    result = run(str(tmp_path / "part-*.jsonl.gz"), tmp_path)
    assert result.rows == 2


PAIR = {"prompt": "Quiet beach?", "chosen": "Menorca.", "rejected": "Ibiza."}
TURNS = {
    "prompt": [{"role": "user", "content": "Quiet beach?"}],
    "chosen": [{"role": "assistant", "content": "Menorca."}],
    "rejected": [{"role": "assistant", "content": "Ibiza."}],
}


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("label", "row"),
    [
        ("conversational", TURNS),
        (  # answers that repeat the prompt as their head (HuggingFaceH4/ultrafeedback_binarized)
            "repeated prompt",
            {
                "prompt": "Quiet beach?",
                "chosen": [*TURNS["prompt"], *TURNS["chosen"]],
                "rejected": [*TURNS["prompt"], *TURNS["rejected"]],
            },
        ),
        (  # TRL's implicit prompt: no prompt field, the shared opening turns are the prompt
            "implicit prompt",
            {
                "chosen": [*TURNS["prompt"], *TURNS["chosen"]],
                "rejected": [*TURNS["prompt"], *TURNS["rejected"]],
            },
        ),
        ("as CSV cells", {k: json.dumps(v) for k, v in TURNS.items()}),
    ],
)
def test_preference_pairs_in_any_trl_form_are_one_conversational_version(
    tmp_path: Path, label: str, row: dict[str, object]
) -> None:
    standard = run(_jsonl(tmp_path / "standard.jsonl", [PAIR]), tmp_path)
    assert standard.fast_path and standard.kind == "preference"
    other = run(_jsonl(tmp_path / "other.jsonl", [row]), tmp_path)
    assert other.content_hash == standard.content_hash, label
    assert pq.read_table(other.data_path).to_pylist() == [{**TURNS, "metadata": None}]
    assert pq.read_table(standard.data_path).to_pylist() == [{**TURNS, "metadata": None}]
    assert other.profile == standard.profile


def test_a_string_that_spells_a_conversation_leaves_the_fast_path_and_reads_as_one(tmp_path: Path) -> None:
    row = {**PAIR, "prompt": json.dumps(TURNS["prompt"])}
    result = run(_jsonl(tmp_path / "p.jsonl", [row]), tmp_path)
    assert not result.fast_path
    assert pq.read_table(result.data_path).to_pylist()[0]["prompt"] == TURNS["prompt"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({**PAIR, "chosen": [{"role": "user", "content": "x"}]}, "field 'chosen' must end with an assistant"),
        ({**TURNS, "prompt": []}, "field 'prompt' is empty"),
        ({**PAIR, "rejected": 3}, "field 'rejected' must be a list of messages, got number"),
        ({"chosen": "a", "rejected": "b"}, "field 'prompt' is missing, and 'chosen' and 'rejected' share"),
    ],
)
def test_bad_preference_pairs_name_the_field(tmp_path: Path, row: dict[str, object], message: str) -> None:
    path = _jsonl(tmp_path / "p.jsonl", [row])
    with pytest.raises(InvalidInput, match=f"p.jsonl:1: {message}"):
        run(path, tmp_path)


def test_prompts_alone_are_a_kind_but_an_unnamed_answer_is_not(tmp_path: Path) -> None:
    prompts = run(
        _jsonl(tmp_path / "p.jsonl", [{"prompt": "a", "id": 1}, {"prompt": "b", "id": 2}]), tmp_path
    )
    assert prompts.kind == "prompt" and prompts.rows == 2
    with pytest.raises(InvalidInput, match="cannot tell the schema"):
        run(_jsonl(tmp_path / "q.jsonl", [{"prompt": "a", "answer": "b"}]), tmp_path)


def test_preference_versions_stored_as_strings_read_as_conversations() -> None:
    """Versions written before pairs became conversational keep their files; readers see one form."""
    from llmloop.services.data.kinds import arrow_schema, upgrade_batch

    old = pa.RecordBatch.from_pylist(
        [{**PAIR, "metadata": None, "split": "train"}],
        schema=pa.schema(
            [*(pa.field(f, pa.string()) for f in PAIR), ("metadata", pa.string()), ("split", pa.string())]
        ),
    )
    new = upgrade_batch(old, "preference")
    assert new.schema == arrow_schema("preference", with_split=True)
    assert new.to_pylist() == [{**TURNS, "metadata": None, "split": "train"}]
    assert upgrade_batch(new, "preference") is new
