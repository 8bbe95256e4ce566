"""The offline half of the loop on the travel example, as a user's own script would run it.

    from llmloop.examples.travel.loop import LoopSettings, run_loop
    summary = run_loop(LoopSettings(workdir="travel-loop"))

Data → prompt with few-shot → evaluate the packaged base → LoRA SFT → evaluate the fine-tune →
compare with bootstrap CIs → gates → promote to ``champion`` when the gates pass. Every step goes
through the public SDK (``ll.datasets``, ``ll.prompts``, ``ll.evaluations``, ``ll.train``,
``ll.models``), so the quickstart shows exactly what a user would write. ``llmloop quickstart``
runs it with the defaults below: about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import llmloop as ll
from llmloop.examples.travel import SYSTEM_PROMPT, write_dataset_files
from llmloop.services.evaluate.schemas import Comparison, Evaluation, GateVerdict
from llmloop.services.evaluate.suite import Suite, parse_suite

BASE_MODEL = "smollm2-135m-instruct"
PROMPT = "travel-recommend"
EVAL_DATASET = "travel-eval"
SFT_DATASET = "travel-sft"
TUNED_MODEL = "travel-sft"

# The fine-tune must beat chance (a 4-option shortlist: 0.25) clearly, and not lose wording quality
# to the model it replaces. Latency is advisory on a CPU.
GATES: list[Any] = [
    "task_accuracy >= 0.5",
    "task_accuracy better than baseline (95% CI)",
    {"rule": "p95 latency <= 500ms", "required": False},
]


@dataclass
class LoopSettings:
    workdir: str | Path
    project: str = "travel"
    seed: int = 0
    sft_steps: int = 50  # ~10 s a step on 2 CPU cores: the whole loop stays near 10 minutes
    eval_rows: int = 64
    few_shot: int = 2
    engine: str = "transformers"  # both models on the same engine, so only the weights differ


@dataclass
class Step:
    name: str
    seconds: float
    detail: str


@dataclass
class LoopSummary:
    project: str
    base: Evaluation
    tuned: Evaluation
    model_version: str
    comparison: Comparison
    verdict: GateVerdict
    promoted: bool
    steps: list[Step] = field(default_factory=list)


Announce = Callable[[str], None]


def build_suite(settings: LoopSettings) -> Suite:
    """The travel suite (examples/travel/suite.yaml) with the loop's gates and row budget."""
    return parse_suite(
        {
            "name": "travel-recommendations",
            "description": "Destination recommendations on held-out requests (quickstart).",
            "project": settings.project,
            "dataset": {"ref": EVAL_DATASET, "limit": settings.eval_rows},
            "prompt": {"ref": PROMPT},
            "metrics": [
                {"metric": "travel_recommendation_correctness", "key": "task_accuracy"},
                {"metric": "travel_constraint_satisfaction", "key": "constraint_satisfaction"},
                "rougeL",
                "latency",
            ],
            "generation": {
                "batch_size": 16,
                "max_new_tokens": 40,
                "temperature": 0.0,
                "extra": {"engine": settings.engine},
            },
            "gates": GATES,
        },
        source="quickstart suite",
    )


def _sft_config(settings: LoopSettings, sft_ref: str, eval_ref: str) -> dict[str, Any]:
    """examples/travel/sft.yaml with the quickstart's step budget and the registered datasets."""
    return {
        "name": TUNED_MODEL,
        "project": settings.project,
        "method": "sft",
        "model": {"base": BASE_MODEL},
        "data": {"train": sft_ref, "eval": eval_ref, "max_eval_rows": 16, "system_prompt": SYSTEM_PROMPT},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
        "training": {
            "learning_rate": 5.0e-4,
            "lr_scheduler": "cosine",
            "warmup_ratio": 0.05,
            "max_steps": settings.sft_steps,
            "batch_size": 8,
            "max_seq_length": 384,
            "seed": settings.seed,
            "eval_steps": settings.sft_steps,
            "save_steps": settings.sft_steps,
            "bf16": "auto",
            "gradient_checkpointing": False,
            "log_every": 5,
        },
    }


def _few_shot(sft_rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """The first ``k`` training chats as fixed examples: the base model sees the answer format."""
    examples = [
        {"input": row["messages"][1]["content"], "output": row["messages"][2]["content"]}
        for row in sft_rows[:k]
    ]
    return {
        "strategy": "fixed",
        "examples": examples,
        "messages": [
            {"role": "user", "content": "{{ input }}"},
            {"role": "assistant", "content": "{{ output }}"},
        ],
    }


def run_loop(settings: LoopSettings, announce: Announce = print) -> LoopSummary:
    """Run every step, timing each; raises on the first failure with the SDK's own error."""
    steps: list[Step] = []
    workdir = Path(settings.workdir)

    def timed(name: str, fn: Callable[[], Any], detail: Callable[[Any], str]) -> Any:
        announce(f"→ {name}")
        t0 = time.perf_counter()
        value = fn()
        steps.append(Step(name, time.perf_counter() - t0, detail(value)))
        announce(f"  {steps[-1].detail} ({steps[-1].seconds:.1f}s)")
        return value

    paths = timed(
        "write the travel data",
        lambda: write_dataset_files(workdir / "data", seed=settings.seed),
        lambda p: ", ".join(f"{k}: {v.name}" for k, v in p.items()),
    )
    sft = timed(
        "register the SFT chats (profile + PII scan)",
        lambda: ll.datasets.add(SFT_DATASET, paths["sft"], schema="chat", project=settings.project),
        lambda h: f"{h.ref}: {h.rows} rows, PII findings: {h.profile.pii_total}",
    )
    evalset = timed(
        "register the held-out eval rows",
        lambda: ll.datasets.add(EVAL_DATASET, paths["eval"], schema="eval", project=settings.project),
        lambda h: f"{h.ref}: {h.rows} rows",
    )
    sft_rows = list(islice(sft.iter_rows(), settings.few_shot))  # the shots, not all 800 rows
    timed(
        "register the prompt with few-shot examples",
        lambda: ll.prompts.create(
            PROMPT,
            project=settings.project,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": "{{ input }}"},
            ],
            variables={"input": "string"},
            few_shot=_few_shot(sft_rows, settings.few_shot),
            message="quickstart: system prompt + fixed few-shot",
        ),
        lambda p: f"{p.ref}",
    )
    suite = build_suite(settings)
    base = timed(
        f"evaluate the base model {BASE_MODEL}",
        lambda: ll.evaluations.run(suite, model=BASE_MODEL, project=settings.project),
        _eval_detail,
    )
    trained = timed(
        f"LoRA SFT for {settings.sft_steps} steps",
        lambda: ll.train(_sft_config(settings, sft.ref, evalset.ref), progress=True),
        lambda r: f"{r.model_version}: train loss {r.train_loss:.3f}, eval loss {r.eval_loss:.3f}",
    )
    version = str(trained.model_version)
    tuned = timed(
        f"evaluate the fine-tune {version}",
        lambda: ll.evaluations.run(suite, model=version, project=settings.project),
        _eval_detail,
    )
    comparison = timed(
        "compare with bootstrap 95% CIs",
        lambda: ll.evaluations.compare([base.id, tuned.id], report_dir=workdir / "report"),
        lambda c: f"report: {c.report_path}",
    )
    verdict = timed(
        "check the gates",
        lambda: ll.evaluations.check(suite.gates, candidate=tuned.id, baseline=base.id),
        lambda v: "passed" if v.passed else "failed: " + "; ".join(_failed(v)),
    )
    promoted = False
    if verdict.passed:
        timed(
            "promote to champion",
            lambda: ll.models.promote(
                version, "champion", project=settings.project, reason="quickstart gates passed"
            ),
            lambda v: f"{v.ref} is now {settings.project}/{TUNED_MODEL}@champion",
        )
        promoted = True
    return LoopSummary(settings.project, base, tuned, version, comparison, verdict, promoted, steps)


def _eval_detail(ev: Evaluation) -> str:
    acc = ev.metrics["task_accuracy"].score
    return f"{ev.model_ref}: task_accuracy {acc:.3f} on {ev.n_examples} rows ({ev.n_errors} errors)"


def _failed(verdict: GateVerdict) -> list[str]:
    return [r.rule for r in verdict.results if r.required and r.status == "fail"]
