"""Prompt registry benchmarks (not tests): render throughput and semantic few-shot selection latency.

    PYTHONPATH=src python benchmarks/bench_prompts.py [--examples 10000] [--queries 50]

Targets (issue 6): a 2-message template with 5 variables renders >= 50,000 times/s (compiled
once per version); semantic few-shot selection over 10,000 examples takes <= 30 ms per query
including the query's own embedding, once the index is built and cached. The index build
(embedding every example with all-MiniLM-L6-v2) is reported too, with the reload from the
disk cache that later processes pay instead. Results go to benchmarks/results/prompts.json
and prompts.md; the machine's load average is recorded beside them because the figures
move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from llmloop.services.prompts import vectors
from llmloop.services.prompts.embeddings import default_embedder
from llmloop.services.prompts.render import CompiledPrompt
from llmloop.services.prompts.schemas import PromptCreate

RESULTS = Path(__file__).parent / "results"
TARGET_RENDERS_PER_S = 50_000
TARGET_QUERY_MS = 30.0

PLACES = [
    "Lisbon",
    "Rome",
    "Kyoto",
    "Reykjavik",
    "Cusco",
    "Marrakesh",
    "Hanoi",
    "Bergen",
    "Tbilisi",
    "Oaxaca",
    "Hobart",
    "Zanzibar",
]
THINGS = [
    "beaches",
    "hiking",
    "museums",
    "street-food",
    "wine",
    "skiing",
    "diving",
    "festivals",
    "architecture",
    "markets",
]
WHO = [
    "a family with toddlers",
    "a retired couple",
    "two students",
    "a solo traveller",
    "friends on a budget",
]
MONTHS = ["January", "March", "May", "July", "September", "November"]


def compile_spec(data: dict[str, Any]) -> CompiledPrompt:
    spec = PromptCreate.model_validate({"name": "bench", **data})
    return CompiledPrompt(
        ref="bench@1",
        messages=spec.messages,
        template=spec.template,
        variables=spec.variables,
        params=spec.params,
        few_shot=spec.few_shot,
    )


def bench_render(rounds: int = 5, n: int = 50_000) -> dict[str, Any]:
    prompt = compile_spec(
        {
            "messages": [
                {
                    "role": "system",
                    "content": "You are {{ agency }}'s travel assistant. Answer in {{ language }}.",
                },
                {
                    "role": "user",
                    "content": "I am {{ who }} and like {{ interest }}. Where should I go in {{ month }}?",
                },
            ],
            "variables": {k: "string" for k in ("agency", "language", "who", "interest", "month")},
        }
    )
    values = {"agency": "Sunny", "language": "English", "who": "a couple", "interest": "food", "month": "May"}
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            prompt.render(**values)
        rates.append(n / (time.perf_counter() - started))
    return {
        "renders_per_s_best": round(max(rates)),
        "renders_per_s_median": round(statistics.median(rates)),
        "rounds": rounds,
        "renders_per_round": n,
        "target": TARGET_RENDERS_PER_S,
        "met": max(rates) >= TARGET_RENDERS_PER_S,
    }


def synthetic_examples(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        place, thing, who, month = rng.choice(PLACES), rng.choice(THINGS), rng.choice(WHO), rng.choice(MONTHS)
        out.append(
            {
                "input": f"Trip idea #{i}: {who} who love {thing}, travelling in {month}.",
                "output": f"Consider {place} for {thing} in {month}.",
            }
        )
    return out


def bench_semantic(n_examples: int, n_queries: int, cache_dir: Path) -> dict[str, Any]:
    examples = synthetic_examples(n_examples)
    prompt = compile_spec(
        {
            "messages": [
                {"role": "system", "content": "You are a travel assistant."},
                {"role": "user", "content": "{{ question }}"},
            ],
            "variables": {"question": "string"},
            "few_shot": {
                "strategy": "semantic",
                "examples": examples,
                "query_variable": "question",
                "k": 3,
                "messages": [
                    {"role": "user", "content": "{{ input }}"},
                    {"role": "assistant", "content": "{{ output }}"},
                ],
            },
        }
    )
    assert prompt.selector is not None
    embedder = default_embedder()
    started = time.perf_counter()
    embedder.encode(["warm up the model"])
    load_s = time.perf_counter() - started

    vectors.forget_memory()
    started, cpu0 = time.perf_counter(), time.process_time()
    prompt.selector.index(embedder, cache_dir=cache_dir)
    build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu0

    vectors.forget_memory()
    started = time.perf_counter()
    prompt.selector.index(embedder, cache_dir=cache_dir)
    reload_s = time.perf_counter() - started

    rng = random.Random(1)
    queries = [
        f"{rng.choice(WHO).capitalize()} want {rng.choice(THINGS)} in {rng.choice(MONTHS)}, any ideas? ({i})"
        for i in range(n_queries)
    ]
    prompt.format({"question": "warm"}, cache_dir=cache_dir)
    total, embed, cpu = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        embedder.encode([q])
        embed.append((time.perf_counter() - t0) * 1000)
        t0, c0 = time.perf_counter(), time.thread_time()  # a single query runs on this thread
        out = prompt.format({"question": q}, cache_dir=cache_dir)
        total.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        assert len(out.examples) == 3
    total.sort()
    p50, p95 = total[len(total) // 2], total[int(len(total) * 0.95) - 1]
    return {
        "examples": n_examples,
        "queries": n_queries,
        "k": 3,
        "model_load_s": round(load_s, 2),
        "index_build_s": round(build_s, 1),
        "index_build_examples_per_s": round(n_examples / build_s),
        "index_build_cpu_s": round(build_cpu_s, 1),
        "index_reload_from_disk_ms": round(reload_s * 1000, 1),
        "query_ms_p50": round(p50, 1),
        "query_ms_p95": round(p95, 1),
        "query_ms_mean": round(statistics.fmean(total), 1),
        "query_embedding_ms_p50": round(sorted(embed)[len(embed) // 2], 1),
        "query_cpu_ms_p50": round(sorted(cpu)[len(cpu) // 2], 1),
        "target_ms": TARGET_QUERY_MS,
        "met": p50 <= TARGET_QUERY_MS,
    }


def markdown(result: dict[str, Any]) -> str:
    r, s = result["render"], result["semantic"]
    return "\n".join(
        [
            "# Prompt registry benchmark",
            "",
            f"Machine: {result['machine']}, load average before/after {result['load_before']} / {result['load_after']}.",
            "",
            "| measure | result | target |",
            "|---|---|---|",
            f"| render, 2 messages x 5 variables | {r['renders_per_s_best']:,}/s best, "
            f"{r['renders_per_s_median']:,}/s median of {r['rounds']} | >= {r['target']:,}/s |",
            f"| semantic few-shot, {s['examples']:,} examples, k={s['k']}, incl. query embedding | "
            f"p50 {s['query_ms_p50']} ms, p95 {s['query_ms_p95']} ms (embedding alone p50 "
            f"{s['query_embedding_ms_p50']} ms) | <= {s['target_ms']} ms |",
            f"| same, CPU time of the querying thread (what an idle core would take) | "
            f"p50 {s['query_cpu_ms_p50']} ms | <= {s['target_ms']} ms |",
            f"| index build (all-MiniLM-L6-v2, once per example set) | {s['index_build_s']} s "
            f"({s['index_build_examples_per_s']} examples/s; {s['index_build_cpu_s']} s of CPU) | - |",
            f"| index reload from the disk cache | {s['index_reload_from_disk_ms']} ms | - |",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="Keep the index here (default: a temporary folder, so it is built).",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = [round(x, 2) for x in os.getloadavg()]
    render = bench_render()
    print(f"render: {render['renders_per_s_best']:,}/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="llmloop-bench-") as tmp:
        semantic = bench_semantic(args.examples, args.queries, args.cache_dir or Path(tmp))
    print(
        f"semantic: p50 {semantic['query_ms_p50']} ms, index build {semantic['index_build_s']} s", flush=True
    )
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}",
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "render": render,
        "semantic": semantic,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prompts.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "prompts.md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
