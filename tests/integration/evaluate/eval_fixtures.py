"""Helpers for evaluation tests: a small QA suite on disk and tiny models with known quality."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

N_ITEMS = 40
QUESTIONS = [(f"q{i:02d}", f"What is item {i}?", f"answer {i}") for i in range(N_ITEMS)]

Generator = Callable[..., list[str]]


def write_suite(folder: Path, *, gates: list[Any] | None = None, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "qa.jsonl").open("w") as fh:
        for qid, question, answer in QUESTIONS:
            fh.write(
                json.dumps({"id": qid, "question": question, "answer": answer, "metadata": {"n": qid}}) + "\n"
            )
    gate_lines = "".join(f"  - {json.dumps(g)}\n" for g in (gates or []))
    text = (
        "name: qa\n"
        "dataset: {path: qa.jsonl}\n"
        'prompt: {template: "Q: {question}", system: "Answer briefly."}\n'
        "metrics:\n  - exact_match\n  - token_f1\n  - bleu\n  - rougeL\n  - latency\n"
        "generation: {batch_size: 8, max_new_tokens: 16}\n"
        "bootstrap: {n_resamples: 300}\n" + (f"gates:\n{gate_lines}" if gates else "") + extra
    )
    path = folder / "suite.yaml"
    path.write_text(text)
    return path


def answering(correct: set[int], *, fail_on: set[int] | None = None) -> Generator:
    """A model that answers item i right when i is in ``correct``; raises on items in ``fail_on``."""
    fail_on = fail_on or set()

    def generate(batch: list[list[dict[str, str]]], **params: Any) -> list[str]:
        out = []
        for messages in batch:
            i = int(messages[-1]["content"].split("item ")[1].rstrip("?"))
            if i in fail_on:
                raise RuntimeError(f"model crashed on item {i}")
            out.append(f"answer {i}" if i in correct else "I do not know")
        return out

    generate.__name__ = f"answers_{len(correct)}"
    return generate


MODEL_MODULE = """
from typing import Any

def _answer(messages, correct):
    i = int(messages[-1]["content"].split("item ")[1].rstrip("?"))
    return f"answer {i}" if i in correct else "I do not know"

def weak(batch, **params: Any):
    return [_answer(m, set(range(0, 40, 2))) for m in batch]

def strong(batch, **params: Any):
    return [_answer(m, set(range(36))) for m in batch]

def broken(batch, **params: Any):
    raise RuntimeError("weights missing")

GRADE_RIGHT = "Names the item.\\nScore: 5"
GRADE_WRONG = "Declines to answer. " * 300 + "\\nScore: 1"  # 6,000 characters: longer than a kept rationale

def grader(batch, **params: Any):
    # judge: 5 for a real answer, 1 for "I do not know", garbage for anything else
    out = []
    for m in batch:
        text = m[-1]["content"].split("Assistant's answer:")[1].split("Rate the answer")[0]
        out.append(GRADE_RIGHT if "answer " in text else GRADE_WRONG if "do not know" in text else "hmm")
    return out

def pair_judge(batch, **params: Any):
    # pairwise judge: prefers a real answer; when both or neither are real it always says A (position bias)
    out = []
    for m in batch:
        text = m[-1]["content"]
        a = text.split("Answer A:")[1].split("Answer B:")[0]
        b = text.split("Answer B:")[1].split("Which answer")[0]
        real_a, real_b = "answer " in a, "answer " in b
        out.append("Winner: B" if real_b and not real_a else "Winner: A")
    return out
"""
