"""Inter-annotator agreement, checked against worked examples."""

from __future__ import annotations

import pytest

from llmloop.server.ui.agreement import agreement, by_task, cohen_kappa, fleiss_kappa
from llmloop.server.ui.pages.prompts import side_by_side


def test_cohen_kappa_of_a_textbook_table() -> None:
    # 50 items: both yes 20, both no 15, a-yes/b-no 5, a-no/b-yes 10 -> po 0.7, pe 0.5, kappa 0.4
    a = ["y"] * 20 + ["n"] * 15 + ["y"] * 5 + ["n"] * 10
    b = ["y"] * 20 + ["n"] * 15 + ["n"] * 5 + ["y"] * 10
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa([], []) is None


def test_fleiss_kappa_of_the_wikipedia_example() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories -> 0.210
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    items = [[str(c) for c, n in enumerate(row) for _ in range(n)] for row in table]
    assert fleiss_kappa(items) == pytest.approx(0.210, abs=0.001)


def test_agreement_picks_the_pair_that_shares_most_items() -> None:
    labels = {
        "t1": {"ann": "good", "bob": "good", "cy": "bad"},
        "t2": {"ann": "bad", "bob": "bad"},
        "t3": {"ann": "good"},
    }
    result = agreement(labels)
    assert result["cohen_kappa"] == pytest.approx(1.0)  # ann and bob agree on both shared items
    assert result["items_with_several_reviews"] == 1


def test_a_unified_diff_becomes_aligned_rows() -> None:
    diff = "--- a\n+++ b\n@@ -1,2 +1,2 @@\n same\n-old line\n+new line\n+added\n"
    assert side_by_side(diff) == [
        ("same", "same", "same"),
        ("change", "old line", "new line"),
        ("add", "", "added"),
    ]


def test_agreement_is_per_task_so_a_verdict_and_a_pairwise_choice_never_disagree() -> None:
    given = [
        ("t1", "ann", "thumbs_up"),
        ("t1", "bob", "pairwise:served"),  # another question about the same trace
        ("t1", "cy", "thumbs_up"),
        ("t2", "ann", "thumbs_down"),
        ("t2", "cy", "thumbs_down"),
        ("t3", "bob", "pairwise:shadow"),
        ("t3", "dee", "pairwise:shadow"),
        ("t4", "bob", "pairwise:served"),
        ("t4", "dee", "pairwise:served"),
    ]
    result = by_task(given)
    assert set(result) == {"labels", "pairwise"}
    assert result["labels"]["cohen_kappa"] == pytest.approx(1.0)  # ann and cy, not ann and bob
    assert result["labels"]["items_with_several_reviews"] == 2
    assert result["pairwise"]["cohen_kappa"] == pytest.approx(1.0)
    mixed = agreement({"t1": {"ann": "thumbs_up", "bob": "pairwise:served"}, "t2": {"ann": "x", "bob": "x"}})
    assert mixed["cohen_kappa"] != pytest.approx(1.0)  # what mixing the tasks used to report
