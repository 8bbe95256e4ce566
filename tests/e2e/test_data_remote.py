"""``ll.datasets`` against a real ``llmloop serve``: uploads, reads, derives; errors keep their class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmloop.config import reset_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


@pytest.mark.slow
def test_remote_sdk_round_trip(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import llmloop as ll

    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    reset_settings()
    first = ll.datasets.add("travel", FIXTURES / "eval.jsonl")
    assert (first.created, first.ref, first.kind) == (True, "travel@1", "eval")
    assert ll.datasets.add("travel", FIXTURES / "eval.jsonl").created is False
    df = ll.datasets.get("travel@1").to_pandas()
    assert (
        list(df["reference"]) == ["Porto", "Phuket", "Wadi Rum"] and df["metadata"][0]["region"] == "europe"
    )
    split = ll.datasets.split("travel@1", fractions={"train": 0.5, "test": 0.5}, seed=2)
    handle = ll.datasets.get(split.versions[0].ref)
    assert sum(len(list(handle.iter_rows(split=s))) for s in handle.splits or {}) == 3
    assert ll.datasets.diff("travel@1", "travel@2").unchanged == 3
    assert [d.name for d in ll.datasets.list()] == ["travel"]
    with pytest.raises(ll.InvalidInput, match=r"malformed.jsonl:3: malformed JSON"):
        ll.datasets.add("bad", FIXTURES / "malformed.jsonl")
    with pytest.raises(ll.NotFound):
        ll.datasets.get("travel@7")
