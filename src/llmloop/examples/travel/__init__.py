"""The running example's data: a travel agency's catalog and rule-labelled recommendation rows.

    python -m llmloop.examples.travel OUT_DIR --seed 0

writes ``sft.jsonl`` (OpenAI chat rows), ``preference.jsonl`` (prompt/chosen/rejected) and
``eval.jsonl`` (input/reference/metadata, held out by destination and template). Pure Python, no
heavy imports, so the quickstart can build it offline in well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from llmloop.examples.travel.generate import Generated, generate
from llmloop.examples.travel.phrasing import SYSTEM_PROMPT
from llmloop.examples.travel.rules import Preferences, recommend
from llmloop.examples.travel.scoring import (
    CONSTRAINT_METRIC,
    CORRECTNESS_METRIC,
    constraint_satisfaction,
    parse_recommendation,
    recommendation_correct,
)

__all__ = [
    "CONSTRAINT_METRIC",
    "CORRECTNESS_METRIC",
    "SYSTEM_PROMPT",
    "Preferences",
    "constraint_satisfaction",
    "generate",
    "main",
    "parse_recommendation",
    "recommend",
    "recommendation_correct",
    "write_dataset_files",
    "write_jsonl",
]

FILE_NAMES = {"sft": "sft.jsonl", "preference": "preference.jsonl", "eval": "eval.jsonl"}


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_dataset_files(
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    n_sft: int = 800,
    n_pref: int = 300,
    n_eval: int = 200,
    *,
    n_candidates: int = 4,
) -> dict[str, Path]:
    """Generate the three splits for ``seed`` into ``out_dir``; returns ``{"sft"|"preference"|"eval": path}``."""
    data: Generated = generate(seed, n_sft=n_sft, n_pref=n_pref, n_eval=n_eval, n_candidates=n_candidates)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {split: out / name for split, name in FILE_NAMES.items()}
    write_jsonl(paths["sft"], (e.sft_row() for e in data.sft))
    write_jsonl(paths["preference"], (e.preference_row() for e in data.preference))
    write_jsonl(paths["eval"], (e.eval_row() for e in data.eval))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmloop.examples.travel", description="Write the travel example's JSONL files."
    )
    parser.add_argument("out_dir", help="folder for sft.jsonl, preference.jsonl, eval.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-sft", type=int, default=800)
    parser.add_argument("--n-pref", type=int, default=300)
    parser.add_argument("--n-eval", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=4, help="options listed in each prompt (2-8)")
    args = parser.parse_args(argv)
    paths = write_dataset_files(
        args.out_dir, args.seed, args.n_sft, args.n_pref, args.n_eval, n_candidates=args.candidates
    )
    for split, path in paths.items():
        with path.open(encoding="utf-8") as fh:
            count = sum(1 for _ in fh)
        print(f"{split:<10} {count:>6} rows  {path}")
    return 0
