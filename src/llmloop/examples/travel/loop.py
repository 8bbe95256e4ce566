"""The first turn of the loop on the travel example, as a user's own script would run it.

    from llmloop.examples.travel.loop import LoopSettings, run_loop
    summary = run_loop(LoopSettings(workdir="travel-loop"))

Data with train/dev/test splits → prompts → evaluate the base at its best prompt → LoRA SFT (early
stopping reads dev) → evaluate the fine-tune with the prompt it learned → compare with paired bootstrap
CIs → gates → promote to ``champion`` when they pass. Every step goes through the public SDK
(``ll.datasets``, ``ll.prompts``, ``ll.evaluations``, ``ll.train``, ``ll.models``).

The experiment is built to be believed (see ``dataset.py`` for the splits):

* The test split is read once per model, here, by the gate's evaluations; nothing is tuned on it.
* The baseline is the base model at the prompt that scores best *on dev* among 0/2/4 shots with and
  without catalogue facts; the choice is made, and frozen, before the test split is read.
* The fine-tune is trained on rows rendered by the registered prompt it is then evaluated and served
  with (``data.prompt``, recorded on the model version).
* The gates are fixed here, before any run: better task accuracy than the baseline with a 95% CI that
  excludes zero, and constraint satisfaction not worse beyond a 0.02 margin. ROUGE is not a gate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import llmloop as ll
from llmloop.examples.travel import write_jsonl
from llmloop.examples.travel.dataset import generate_experiment
from llmloop.services.evaluate.schemas import Comparison, Evaluation, GateVerdict
from llmloop.services.evaluate.suite import Suite, parse_suite

BASE_MODEL = "smollm2-135m-instruct"
DATASET = "travel"
TUNED_MODEL = "travel-sft"
SYSTEM_PROMPT = (
    "You are a travel agent. Pick the one destination from the options that meets every wish. "
    "Answer with its name only."
)
# Two renderings of the same row: the shortlist as bare names (the app knows the catalogue, and so
# must the model), or with each option's catalogue facts. The fine-tune learns PROMPT.
PROMPT = "travel-recommend"
FACTS_PROMPT = "travel-recommend-facts"
PROMPTS: dict[str, str] = {PROMPT: "option_names", FACTS_PROMPT: "option_lines"}

GATES: list[Any] = [
    "task_accuracy better than baseline (95% CI)",
    "constraint_satisfaction not worse than baseline by more than 0.02 (95% CI)",
    {"rule": "p95 latency <= 500ms", "required": False},
]


# The top 10 of SmolLM2's 30 blocks: the backward pass stops below them, so a step costs ~0.6 of
# adapting every block, and it learned the choice as well on dev (0.375 at 240 steps).
LORA: dict[str, Any] = {
    "r": 16,
    "alpha": 32,
    "dropout": 0.05,
    "target_modules": "all-linear",
    "top_layers": 10,
}


@dataclass(frozen=True)
class PromptChoice:
    """A prompt and how many training rows it shows as worked examples."""

    prompt: str
    shots: int

    @property
    def label(self) -> str:
        return f"{self.prompt} {self.shots}-shot"


CANDIDATE_BASELINES: tuple[PromptChoice, ...] = tuple(
    PromptChoice(p, k) for p in (PROMPT, FACTS_PROMPT) for k in (0, 2, 4)
)


@dataclass
class LoopSettings:
    workdir: str | Path | None = None  # None: LLMLOOP_HOME/quickstart
    project: str = "travel"
    seed: int = 0
    # 240 x 8 rows = 1.6 epochs: the choice is learned after about one epoch (dev 0.375 at 240 steps,
    # seed 0, against ~0.27 for the base); ~3 s a step in fp32 on 2 CPU cores without avx512_bf16
    sft_steps: int = 240
    learning_rate: float = 1e-3
    test_rows: int = 300
    dev_rows: int = 64  # rows each candidate base prompt answers; eval loss in training reads 32
    train_rows: int = 1200
    engine: str = "transformers"  # both models on the same engine, so only the weights differ

    @property
    def folder(self) -> Path:
        """Where the data files and the reports go."""
        if self.workdir is not None:
            return Path(self.workdir)
        from llmloop.config import get_settings

        return Path(get_settings().home) / "quickstart"


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
    baseline: PromptChoice
    tuned_prompt: str
    dev_scores: list[tuple[PromptChoice, float]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


Announce = Callable[[str], None]


def build_suite(
    settings: LoopSettings,
    choice: PromptChoice,
    *,
    split: str = "test",
    dataset: str = DATASET,
    limit: int | None = None,
    gates: list[Any] | None = None,
    data: str | None = None,
) -> Suite:
    """The travel suite on one split of ``dataset``, asked through ``choice``; the gates are the
    loop's unless ``gates`` (turn 2 gates against the champion). ``data`` pins the version read
    (``travel@3``; default the latest of ``dataset``)."""
    prompt: dict[str, Any] = {"ref": choice.prompt}
    rows = data or dataset
    if choice.shots:
        prompt["few_shot"] = {"ref": rows, "split": "train", "k": choice.shots, "seed": settings.seed}
    if limit is None:
        limit = settings.test_rows if split == "test" else settings.dev_rows
    prefix = "travel-recommendations" if dataset == DATASET else dataset
    return parse_suite(
        {
            "name": f"{prefix}-{split}",
            "description": f"Destination choice on the {split} split of {dataset} (held out by request and wording).",
            "project": settings.project,
            "dataset": {"ref": rows, "split": split, "limit": limit},
            "prompt": prompt,
            "metrics": [
                {"metric": "travel_recommendation_correctness", "key": "task_accuracy"},
                {"metric": "travel_constraint_satisfaction", "key": "constraint_satisfaction"},
                "latency",
            ],
            "generation": {
                "batch_size": 16,
                "max_new_tokens": 12,
                "temperature": 0.0,
                "extra": {"engine": settings.engine},
            },
            "gates": GATES if gates is None else gates,
        },
        source="quickstart suite",
    )


def sft_config(settings: LoopSettings, *, data: str = DATASET) -> dict[str, Any]:
    """LoRA SFT on the train split of ``data``, rendered by PROMPT; eval loss (early stopping) reads dev only."""
    return {
        "name": TUNED_MODEL,
        "project": settings.project,
        "method": "sft",
        "model": {"base": BASE_MODEL},
        "data": {
            "train": {"ref": data, "split": "train"},
            "eval": {"ref": data, "split": "dev"},
            "max_eval_rows": 32,
            "prompt": PROMPT,
        },
        "lora": LORA,
        "training": {
            "learning_rate": settings.learning_rate,
            "lr_scheduler": "cosine",
            "warmup_ratio": 0.05,
            "max_steps": settings.sft_steps,
            "batch_size": 8,
            "max_seq_length": 256,
            "seed": settings.seed,
            "eval_steps": max(1, settings.sft_steps // 3),
            "save_steps": settings.sft_steps,
            "bf16": "auto",
            "gradient_checkpointing": False,
            "log_every": 5,
        },
    }


def write_experiment(path: Path, settings: LoopSettings) -> Path:
    """The three splits as one JSONL file (each row names its split), written atomically."""
    n_dev = max(settings.dev_rows, 32)
    exp = generate_experiment(
        settings.seed, n_train=settings.train_rows, n_dev=n_dev, n_test=settings.test_rows
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, exp.records())
    return path


def register_prompts(project: str) -> list[str]:
    """Both renderings of a row, as registered prompt versions (the same content twice is one version)."""
    refs = []
    for name, options in PROMPTS.items():
        version = ll.prompts.create(
            name,
            project=project,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": "{{ input }}\nOptions:\n{{ " + options + " }}"},
            ],
            variables={"input": "string", options: "string"},
            message=f"quickstart: request + shortlist ({options})",
        )
        refs.append(version.ref)
    return refs


def evaluate(
    settings: LoopSettings, model: str, choice: PromptChoice, *, data: str | None = None
) -> Evaluation:
    """``model`` on the test split (of ``data``), asked through ``choice``."""
    return ll.evaluations.run(
        build_suite(settings, choice, data=data), model=model, project=settings.project, progress=True
    )


def choose_baseline(
    settings: LoopSettings, announce: Announce = print, *, data: str | None = None
) -> list[tuple[PromptChoice, float]]:
    """Every candidate prompt for the base model, scored on dev, best first (ties: fewer shots)."""
    scored = []
    for choice in CANDIDATE_BASELINES:
        ev = ll.evaluations.run(
            build_suite(settings, choice, split="dev", data=data),
            model=BASE_MODEL,
            project=settings.project,
            progress=True,
        )
        score = ev.metrics["task_accuracy"].score or 0.0
        announce(f"  {choice.label}: task_accuracy {score:.3f} on {ev.n_examples} dev rows")
        scored.append((choice, score))
    return sorted(scored, key=lambda cs: (-cs[1], cs[0].shots))


def prepare(settings: LoopSettings, announce: Announce = print) -> Any:
    """Write and register the data and the prompts (idempotent: same content, same versions)."""
    path = write_experiment(settings.folder / "data" / "travel.jsonl", settings)
    handle = ll.datasets.add(DATASET, path, schema="eval", project=settings.project)
    register_prompts(settings.project)
    announce(f"  {handle.ref}: {handle.rows} rows (train/dev/test), prompts {', '.join(PROMPTS)}")
    return handle


def tuned_prompt(model: str, project: str) -> str:
    """The prompt version a fine-tune learned (recorded on it at registration)."""
    return str(ll.models.get(model, project=project).metadata.get("prompt") or PROMPT)


class Decision(BaseModel):
    """Turn 1's verdict on its fine-tune: the comparison, the gates, and whether it was promoted."""

    model: str
    comparison: Comparison
    verdict: GateVerdict
    promoted: bool


def decide(settings: LoopSettings, base: str, tuned: str, model: str) -> Decision:
    """Paired bootstrap CIs and a report, the loop's fixed gates, and promotion when they pass."""
    comparison = ll.evaluations.compare([base, tuned], report_dir=settings.folder / "report")
    gates = build_suite(settings, PromptChoice(PROMPT, 0)).gates  # fixed here, whatever the prompts
    verdict = ll.evaluations.check(gates, candidate=tuned, baseline=base)
    if verdict.passed:
        ll.models.promote(model, "champion", project=settings.project, reason="quickstart gates passed")
    return Decision(model=model, comparison=comparison, verdict=verdict, promoted=verdict.passed)


Timed = Callable[[str, Callable[[], Any], Callable[[Any], str]], Any]


def step_timer(steps: list[Step], announce: Announce) -> Timed:
    """``timed(name, fn, detail)``: announce the step, run it, append its ``Step`` to ``steps`` and
    announce its detail and seconds; turn 2 prints and times its steps through it."""

    def timed(name: str, fn: Callable[[], Any], detail: Callable[[Any], str]) -> Any:
        announce(f"→ {name}")
        t0 = time.perf_counter()
        value = fn()
        steps.append(Step(name, time.perf_counter() - t0, detail(value)))
        announce(f"  {steps[-1].detail} ({steps[-1].seconds:.1f}s)")
        return value

    return timed


def run_loop(settings: LoopSettings, announce: Announce = print) -> LoopSummary:
    """Turn 1 as the pipeline ``loop.yaml`` runs it (in this process, each step through the cache);
    raises on the first failed step with its error."""
    from llmloop.examples.travel import pipeline

    run = pipeline.run(settings, None, report=lambda step, message: announce(f"→ {step}: {message}"))
    return pipeline.turn1_summary(run)
