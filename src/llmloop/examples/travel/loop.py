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
    workdir: str | Path
    project: str = "travel"
    seed: int = 0
    # 240 x 8 rows = 1.6 epochs: the choice is learned after about one epoch (dev 0.375 at 240 steps,
    # seed 0, against ~0.27 for the base); ~3 s a step in fp32 on 2 CPU cores without avx512_bf16
    sft_steps: int = 240
    learning_rate: float = 1e-3
    test_rows: int = 300
    dev_rows: int = 64  # rows each candidate base prompt answers; eval loss in training reads 32
    train_rows: int = 1200
    baseline: PromptChoice | None = None  # None: choose on dev; a choice given here skips that step
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
) -> Suite:
    """The travel suite on one split of ``dataset``, asked through ``choice``; the gates are the
    loop's unless ``gates`` (turn 2 gates against the champion)."""
    prompt: dict[str, Any] = {"ref": choice.prompt}
    if choice.shots:
        prompt["few_shot"] = {"ref": DATASET, "split": "train", "k": choice.shots, "seed": settings.seed}
    if limit is None:
        limit = settings.test_rows if split == "test" else settings.dev_rows
    prefix = "travel-recommendations" if dataset == DATASET else dataset
    return parse_suite(
        {
            "name": f"{prefix}-{split}",
            "description": f"Destination choice on the {split} split of {dataset} (held out by request and wording).",
            "project": settings.project,
            "dataset": {"ref": dataset, "split": split, "limit": limit},
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


def sft_config(settings: LoopSettings) -> dict[str, Any]:
    """LoRA SFT on the train split, rendered by PROMPT; eval loss (early stopping) reads dev only."""
    return {
        "name": TUNED_MODEL,
        "project": settings.project,
        "method": "sft",
        "model": {"base": BASE_MODEL},
        "data": {
            "train": {"ref": DATASET, "split": "train"},
            "eval": {"ref": DATASET, "split": "dev"},
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


def choose_baseline(settings: LoopSettings, announce: Announce = print) -> list[tuple[PromptChoice, float]]:
    """Every candidate prompt for the base model, scored on dev, best first (ties: fewer shots)."""
    scored = []
    for choice in CANDIDATE_BASELINES:
        ev = ll.evaluations.run(
            build_suite(settings, choice, split="dev"),
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
    path = write_experiment(Path(settings.workdir) / "data" / "travel.jsonl", settings)
    handle = ll.datasets.add(DATASET, path, schema="eval", project=settings.project)
    register_prompts(settings.project)
    announce(f"  {handle.ref}: {handle.rows} rows (train/dev/test), prompts {', '.join(PROMPTS)}")
    return handle


Timed = Callable[[str, Callable[[], Any], Callable[[Any], str]], Any]


def step_timer(steps: list[Step], announce: Announce) -> Timed:
    """``timed(name, fn, detail)``: announce the step, run it, append its ``Step`` to ``steps`` and
    announce its detail and seconds; both turns print and time their steps alike through it."""

    def timed(name: str, fn: Callable[[], Any], detail: Callable[[Any], str]) -> Any:
        announce(f"→ {name}")
        t0 = time.perf_counter()
        value = fn()
        steps.append(Step(name, time.perf_counter() - t0, detail(value)))
        announce(f"  {steps[-1].detail} ({steps[-1].seconds:.1f}s)")
        return value

    return timed


def run_loop(settings: LoopSettings, announce: Announce = print) -> LoopSummary:
    """Run every step, timing each; raises on the first failure with the SDK's own error."""
    steps: list[Step] = []
    workdir = Path(settings.workdir)
    timed = step_timer(steps, announce)

    timed(
        "write and register the data (train/dev/test) and the prompts",
        lambda: prepare(settings, announce=lambda _: None),
        lambda h: f"{h.ref}: {h.rows} rows, PII findings: {h.profile.pii_total}",
    )
    dev_scores: list[tuple[PromptChoice, float]] = []
    baseline = settings.baseline
    if baseline is None:
        dev_scores = timed(
            f"choose the base model's prompt on dev ({len(CANDIDATE_BASELINES)} candidates)",
            lambda: choose_baseline(settings, announce=announce),
            lambda ranked: f"best: {ranked[0][0].label} ({ranked[0][1]:.3f}), frozen for the test",
        )
        baseline = dev_scores[0][0]
    chosen = baseline
    base = timed(
        f"evaluate the base model {BASE_MODEL} ({chosen.label}) on test",
        lambda: ll.evaluations.run(
            build_suite(settings, chosen), model=BASE_MODEL, project=settings.project, progress=True
        ),
        _eval_detail,
    )
    trained = timed(
        f"LoRA SFT for {settings.sft_steps} steps (eval loss on dev)",
        lambda: ll.train(sft_config(settings), progress=True),
        lambda r: f"{r.model_version}: train loss {r.train_loss:.3f}, dev loss {r.eval_loss:.3f}",
    )
    version = str(trained.model_version)
    tuned_prompt = str(ll.models.get(version, project=settings.project).metadata.get("prompt") or PROMPT)
    tuned = timed(
        f"evaluate the fine-tune {version} with the prompt it learned ({tuned_prompt}) on test",
        lambda: ll.evaluations.run(
            build_suite(settings, PromptChoice(tuned_prompt, 0)),
            model=version,
            project=settings.project,
            progress=True,
        ),
        _eval_detail,
    )
    comparison = timed(
        "compare with paired bootstrap 95% CIs",
        lambda: ll.evaluations.compare([base.id, tuned.id], report_dir=workdir / "report"),
        lambda c: f"report: {c.report_path}",
    )
    verdict = timed(
        "check the gates",
        lambda: ll.evaluations.check(
            build_suite(settings, chosen).gates, candidate=tuned.id, baseline=base.id
        ),
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
    return LoopSummary(
        settings.project,
        base,
        tuned,
        version,
        comparison,
        verdict,
        promoted,
        chosen,
        tuned_prompt,
        dev_scores,
        steps,
    )


def _eval_detail(ev: Evaluation) -> str:
    acc = ev.metrics["task_accuracy"].score
    return f"{ev.model_ref}: task_accuracy {acc:.3f} on {ev.n_examples} rows ({ev.n_errors} errors)"


def _failed(verdict: GateVerdict) -> list[str]:
    return [r.rule for r in verdict.results if r.required and r.status == "fail"]
