"""The pairwise choice of the annotation queue: which answer shows on the left, and what a choice means.

A trace with a shadow target's answer (the gateway mirrors the request to it) holds two answers to one
prompt: the served one and the shadow's. The reviewer sees them as "left" and "right" in an order seeded
by the trace and the reviewer, so a reload shows the same order, yet across items and reviewers each
answer is on the left about half the time (no side bias baked into the labels). The server recomputes
the order on submit, so the page cannot be told which side is which.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Side = Literal["served", "shadow"]
SIDES: tuple[Side, Side] = ("served", "shadow")
CHOICES = ("left", "right", "tie")


def pair_order(trace_id: str, reviewer: str) -> tuple[Side, Side]:
    """(left, right) for this reviewer on this trace: stable, and balanced over items and reviewers."""
    bit = hashlib.sha256(f"{trace_id}\0{reviewer}".encode()).digest()[0] & 1
    return SIDES if bit == 0 else (SIDES[1], SIDES[0])


def chosen_side(trace_id: str, reviewer: str, choice: str) -> Side | Literal["tie"]:
    """The answer a click on ``choice`` (left, right or tie) picked; ValueError for anything else."""
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {', '.join(CHOICES)}, got {choice[:20]!r}")
    if choice == "tie":
        return "tie"
    left, right = pair_order(trace_id, reviewer)
    return left if choice == "left" else right
