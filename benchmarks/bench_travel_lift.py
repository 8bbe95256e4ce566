"""Does LoRA SFT lift the travel task metric above the base model with few-shot prompting?

    PYTHONPATH=src python benchmarks/bench_travel_lift.py [--steps 60] [--eval-rows 40] [--shots 3]

Trains ``examples/travel/sft.yaml`` (through ``ll.train``) on the packaged SmolLM2-135M-Instruct,
then answers the same held-out eval rows three ways, greedy, in batches: the base model zero-shot,
the base model with k solved examples in the prompt, and the fine-tuned model zero-shot. Scores are
the travel example's rule-based ``travel_recommendation_correctness`` (and constraint satisfaction).
Needs ``llmloop.examples.travel`` (the travel data generator). Writes results/travel_lift.json/.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from bench_training import CACHE, RESULTS, ROOT, base_model_dir


def generate(
    model: Any, tok: Any, conversations: list[list[dict[str, str]]], *, batch: int, max_new: int
) -> list[str]:
    import torch

    out: list[str] = []
    tok.padding_side = "left"
    for start in range(0, len(conversations), batch):
        texts = [
            tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
            for c in conversations[start : start + batch]
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            ids = model.generate(
                **enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id
            )
        out += [
            t.strip() for t in tok.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--eval-rows", type=int, default=40)
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        from llmloop.examples.travel import (  # type: ignore[import-not-found,unused-ignore]
            SYSTEM_PROMPT,
            constraint_satisfaction,
            recommendation_correct,
            write_dataset_files,
        )
    except ImportError:
        RESULTS.mkdir(parents=True, exist_ok=True)
        note = {"skipped": "llmloop.examples.travel (the travel data and its scorer) is not installed"}
        (RESULTS / "travel_lift.json").write_text(json.dumps(note))
        print(note["skipped"])
        return 0
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import llmloop as ll

    t0 = time.time()
    model_dir, model_note = base_model_dir()
    data = CACHE / "travel-lift"
    paths = write_dataset_files(data, 0)
    result = ll.train(
        ROOT / "examples" / "travel" / "sft.yaml",
        overrides={
            "model.base": str(model_dir),
            "data.train": str(paths["sft"]),
            "data.eval": str(paths["eval"]),
            "training.max_steps": args.steps,
            "training.save_steps": None,
            "training.eval_steps": None,
            "register_model": False,
        },
    )
    train_s = time.time() - t0
    eval_rows = [json.loads(x) for x in paths["eval"].read_text().splitlines()][: args.eval_rows]
    shots_src = [json.loads(x) for x in paths["sft"].read_text().splitlines()][: args.shots]
    shots = [m for r in shots_src for m in r["messages"] if m["role"] != "system"]
    zero = [
        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": r["input"]}]
        for r in eval_rows
    ]
    few = [
        [{"role": "system", "content": SYSTEM_PROMPT}, *shots, {"role": "user", "content": r["input"]}]
        for r in eval_rows
    ]

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    answers: dict[str, list[str]] = {}
    timing: dict[str, float] = {}
    for name, convs in (("base zero-shot", zero), (f"base {args.shots}-shot", few)):
        t = time.time()
        answers[name] = generate(base, tok, convs, batch=args.batch, max_new=40)
        timing[name] = time.time() - t
    tuned = PeftModel.from_pretrained(base, result.output_dir or "").eval()
    t = time.time()
    answers["LoRA SFT zero-shot"] = generate(tuned, tok, zero, batch=args.batch, max_new=40)
    timing["LoRA SFT zero-shot"] = time.time() - t

    scores = {
        name: {
            "travel_recommendation_correctness": statistics.mean(
                recommendation_correct(a, r["metadata"]) for a, r in zip(texts, eval_rows, strict=True)
            ),
            "travel_constraint_satisfaction": statistics.mean(
                constraint_satisfaction(a, r["metadata"]) for a, r in zip(texts, eval_rows, strict=True)
            ),
            "generate_s": round(timing[name], 1),
            "example": texts[0],
        }
        for name, texts in answers.items()
    }
    report = {
        "benchmark": "travel task metric: base few-shot vs LoRA SFT",
        "model": model_note,
        "train_run_id": result.run_id,
        "train_steps": result.steps,
        "train_loss": result.train_loss,
        "eval_loss": result.eval_loss,
        "train_s": round(train_s, 1),
        "eval_rows": len(eval_rows),
        "scores": scores,
        "total_s": round(time.time() - t0, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "travel_lift.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Travel task metric: base model (zero/few-shot) vs LoRA SFT\n",
        f"{model_note}; LoRA SFT {result.steps} steps (train loss {result.train_loss:.3f}, eval loss "
        f"{result.eval_loss:.3f}) in {train_s:.0f} s; {len(eval_rows)} held-out eval rows, greedy.\n",
        "| model | recommendation correctness | constraint satisfaction |",
        "|---|---|---|",
        *(
            f"| {n} | {s['travel_recommendation_correctness']:.3f} | {s['travel_constraint_satisfaction']:.3f} |"
            for n, s in scores.items()
        ),
    ]
    (RESULTS / "travel_lift.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
