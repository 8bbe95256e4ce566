"""The pairwise queue's left/right order: stable per trace and reviewer, balanced across them."""

from __future__ import annotations

import uuid

import pytest

from llmloop.server.ui.pairwise import chosen_side, pair_order


def test_the_order_is_stable_for_a_trace_and_reviewer_but_not_always_the_same_side() -> None:
    traces = [uuid.UUID(int=i).hex for i in range(400)]
    orders = [pair_order(t, "ada") for t in traces]
    assert orders == [pair_order(t, "ada") for t in traces], "a reload shows the same order"
    served_left = sum(o[0] == "served" for o in orders)
    assert 150 < served_left < 250, f"served answer on the left {served_left}/400 times"
    assert any(pair_order(t, "ada") != pair_order(t, "max") for t in traces), "seeded by the reviewer too"
    assert all(sorted(o) == ["served", "shadow"] for o in orders)


def test_a_choice_names_the_answer_shown_on_that_side() -> None:
    trace = uuid.UUID(int=7).hex
    left, right = pair_order(trace, "ada")
    assert chosen_side(trace, "ada", "left") == left
    assert chosen_side(trace, "ada", "right") == right
    assert chosen_side(trace, "ada", "tie") == "tie"
    with pytest.raises(ValueError, match="choice must be one of left, right, tie"):
        chosen_side(trace, "ada", "both")
