"""The row search's match and scan on canonical batches made here: which fields match, and where a
scan starts, stops and says to resume (the store-backed paths are in tests/integration/data)."""

from __future__ import annotations

import pyarrow as pa

from llmloop.services.data.kinds import arrow_schema
from llmloop.services.data.rows import matches, scan


def _pref(rows: list[tuple[str, str, str, str | None, str]]) -> pa.RecordBatch:
    """Preference rows (prompt, chosen, rejected as one message each), metadata, and a split."""

    def turn(role: str, text: str) -> list[dict[str, str]]:
        return [{"role": role, "content": text}]

    cols = {
        "prompt": [turn("user", p) for p, *_ in rows],
        "chosen": [turn("assistant", c) for _, c, *_ in rows],
        "rejected": [turn("assistant", r) for _, _, r, *_ in rows],
        "metadata": [m for *_, m, _ in rows],
        "split": [s for *_, s in rows],
    }
    return pa.RecordBatch.from_pydict(cols, schema=arrow_schema("preference", with_split=True))


def test_every_message_field_and_the_metadata_text_match_but_not_roles_or_the_split() -> None:
    batch = _pref(
        [
            ("hi", "Kiwi", "no", None, "train"),  # chosen
            ("hi", "yes", "a KIWI", None, "train"),  # rejected
            ("kiwi?", "yes", "no", '{"fruit":"x"}', "train"),  # prompt
            ("hi", "yes", "no", '{"fruit":"kiwi"}', "train"),  # metadata value
            ("hi", "yes", "no", None, "kiwi"),  # only the split holds it
        ]
    )
    assert matches(batch, "kiwi").tolist() == [True, True, True, True, False]
    assert matches(batch, "fruit").tolist() == [False, False, True, True, False]  # metadata keys too
    assert not matches(batch, "assistant").any()  # roles are not text
    assert matches(batch.slice(2), "KIWI").tolist() == [True, True, False]  # a slice keeps its own rows


def _texts(n: int, hits: set[int], size: int) -> list[pa.RecordBatch]:
    texts = [f"row {i} hit" if i in hits else f"row {i}" for i in range(n)]
    table = pa.table({"text": texts, "metadata": [None] * n}, schema=arrow_schema("text"))
    return table.to_batches(max_chunksize=size)


def _found(picked: list[pa.RecordBatch]) -> list[str]:
    return [t for b in picked for t in b.column("text").to_pylist()]


def test_a_scan_starts_inside_a_batch_and_stops_at_the_budget() -> None:
    batches = _texts(30, {3, 12, 25}, size=10)
    picked, stop = scan(batches, offset=4, limit=5, q="HIT", budget=16)  # rows 4..19: ends where batch 2 ends
    assert (_found(picked), stop) == (["row 12 hit"], 20)
    picked, stop = scan(batches, offset=20, limit=5, q="hit", budget=16)
    assert (_found(picked), stop) == (["row 25 hit"], None)  # the batches ran out before the budget
    picked, stop = scan(batches, offset=0, limit=5, q="hit", budget=12)  # ends inside batch 2, before row 12
    assert (_found(picked), stop) == (["row 3 hit"], 12)


def test_a_full_page_stops_just_past_its_last_match_and_plain_paging_reads_limit_rows() -> None:
    batches = _texts(30, {3, 12, 25}, size=10)
    picked, stop = scan(batches, offset=0, limit=2, q="hit", budget=1000)
    assert (_found(picked), stop) == (["row 3 hit", "row 12 hit"], 13)
    picked, stop = scan(batches, offset=8, limit=4, q=None, budget=4)
    assert (_found(picked), stop) == (["row 8", "row 9", "row 10", "row 11"], 12)
    assert scan(batches, offset=40, limit=4, q="hit", budget=100) == ([], None)  # past the end
