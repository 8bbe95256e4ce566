"""``llmloop quickstart``: both turns of the loop on the travel example, in one command.

What ``make demo`` runs: the pipeline ``examples/travel/loop.yaml`` (its steps are plain SDK calls
in ``llmloop.examples.travel``), in this process and through the pipeline cache, so a second run
with nothing changed reuses every step. This module only chooses the budget and prints what
happened and where to look next.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llmloop.cli._output import print_table
from llmloop.config import get_settings

if TYPE_CHECKING:
    from llmloop.examples.travel.loop import PromptChoice
    from llmloop.examples.travel.turn2 import Turn2Outcome

FAST: dict[str, Any] = {"sft_steps": 6, "test_rows": 24, "dev_rows": 8, "train_rows": 200}
FAST_TURN2: dict[str, Any] = {
    "traffic": 40,  # the drift monitor tests a window of 30 texts or more
    "dev_rows": 8,
    "test_rows": 24,
    "sft_steps": 6,
    "canary_requests": 8,
}


@click.command()
@click.option("--seed", default=0, show_default=True, help="Seed for the data, the splits and the training.")
@click.option("--project", default="travel", show_default=True, help="Project that holds everything.")
@click.option(
    "--sft-steps",
    default=None,
    type=click.IntRange(1, 10_000),
    help="LoRA SFT steps (default 240, about 3 s each in fp32 on 2 CPU cores).",
)
@click.option(
    "--test-rows",
    default=None,
    type=click.IntRange(2, 5000),
    help="Test requests each model answers (default 300: enough for a CI of about ±0.07).",
)
@click.option(
    "--fast",
    is_flag=True,
    help="A smoke run in a few minutes: 6 steps, 24 test rows (too few to decide anything).",
)
@click.option(
    "--choose-baseline",
    is_flag=True,
    help="Only score the base model's candidate prompts on dev and print them, best first.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the data files and the reports go (default: LLMLOOP_HOME/quickstart).",
)
@click.option(
    "--turns",
    default="2",
    show_default=True,
    type=click.Choice(["1", "2"]),
    help="1: adapt only (up to promotion); 2: then deploy, learn from production traffic, canary.",
)
@click.option("--serve", is_flag=True, help="Then serve the web UI (and the API) on 127.0.0.1:--port.")
@click.option("--port", default=7788, show_default=True, type=click.IntRange(1, 65535))
def quickstart(
    seed: int,
    project: str,
    sft_steps: int | None,
    test_rows: int | None,
    fast: bool,
    choose_baseline: bool,
    workdir: Path | None,
    turns: str,
    serve: bool,
    port: int,
) -> None:
    """Data → prompts → base at its best dev prompt → LoRA SFT → evaluate on test → gates → promote."""
    from llmloop.examples.travel import loop as travel
    from llmloop.examples.travel import pipeline, turn2

    t0 = time.time()
    settings = get_settings()
    loop = travel.LoopSettings(workdir=workdir, project=project, seed=seed)
    if fast:
        loop = dataclasses.replace(loop, **FAST)
    if sft_steps is not None:
        loop.sft_steps = sft_steps
    if test_rows is not None:
        loop.test_rows = test_rows
    if choose_baseline:
        travel.prepare(loop, announce=click.echo)
        ranked = travel.choose_baseline(loop, announce=click.echo)
        _dev_table(ranked)
        return
    t2 = turn2.Turn2Settings(**(FAST_TURN2 if fast else {})) if turns == "2" else None
    run = pipeline.run(loop, t2, report=lambda step, message: click.echo(f"→ {step}: {message}"))
    summary = pipeline.turn1_summary(run)
    if summary.dev_scores:
        _dev_table(summary.dev_scores)

    rows = []
    pair = summary.comparison.pairs[0]
    for delta in pair.metrics:
        ci = "" if delta.ci_low is None else f"[{delta.ci_low:+.3f}, {delta.ci_high:+.3f}]"
        rows.append([delta.key, delta.baseline, delta.candidate, delta.delta, ci, delta.p_value])
    print_table(
        ["metric", pair.baseline_model, pair.candidate_model, "delta", "95% CI", "p"],
        rows,
        title=f"base ({summary.baseline.label}) vs fine-tune ({summary.tuned_prompt}) on the test split",
    )
    print_table(
        ["gate", "status", "observed", "required"],
        [[r.rule, r.status, r.observed, r.required] for r in summary.verdict.results],
        title="promotion gates",
    )
    verdict = "promoted to champion" if summary.promoted else "NOT promoted (a required gate failed)"
    click.echo(f"{summary.model_version}: {verdict}")
    click.echo(f"report: {summary.comparison.report_path}/report.html")
    click.echo(f"store: {settings.resolved_database_url}  artifacts: {settings.resolved_artifacts_url}")
    click.echo(
        f"look closer: llmloop models list --project {project}; "
        f"llmloop eval compare {summary.base.id} {summary.tuned.id}"
    )
    if t2 is not None:
        _turn2(pipeline.turn2_outcome(run), project)
    print_table(
        ["step", "seconds", "result"],
        [[s.name, s.seconds, s.detail] for s in summary.steps],
        title=f"pipeline {run.name} run {run.id} (llmloop pipeline status {run.id})",
    )
    cached = sum(s.state == "cached" for s in run.steps)
    click.echo(
        f"done in {time.time() - t0:.0f}s ({cached} of {len(run.steps)} steps from the cache); {_peak_memory()}"
    )
    if serve:
        from llmloop.cli.server import server

        click.echo(f"web UI: http://127.0.0.1:{port}/?project={project}")
        click.get_current_context().invoke(server, port=port)


def _peak_memory() -> str:
    """Peak resident memory of this process and of the largest child it waited for (turn 2's
    server), as the kernel counted it: what a user needs free to run the demo."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    server = f", the server {child:.2f} GiB" if child > 0.05 else ""
    return f"peak memory: this process {own:.2f} GiB{server}"


def _dev_table(ranked: list[tuple[PromptChoice, float]]) -> None:
    print_table(
        ["prompt", "shots", "dev task_accuracy"],
        [[c.prompt, c.shots, score] for c, score in ranked],
        title="base model prompts on dev (best first; the best is the baseline)",
    )


def _turn2(s: Turn2Outcome | str, project: str) -> None:
    if isinstance(s, str):
        click.echo(f"turn 2 skipped: {s}")
        return
    _drift(s)
    for title, cmp_ in (
        ("drifted test slice", s.drift_comparison),
        ("original test split", s.original_comparison),
    ):
        pair = cmp_.pairs[0]
        rows = [
            [
                d.key,
                d.baseline,
                d.candidate,
                d.delta,
                "" if d.ci_low is None else f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}]",
                d.p_value,
            ]
            for d in pair.metrics
        ]
        print_table(
            ["metric", pair.baseline_model, pair.candidate_model, "delta", "95% CI", "p"],
            rows,
            title=f"turn 2: champion vs challenger on the {title}",
        )
    print_table(
        ["gate", "status", "observed", "required"],
        [
            [r.rule, r.status, r.observed, r.required]
            for v in (s.drift_verdict, s.original_verdict)
            for r in v.results
        ],
        title="turn-2 gates (drifted: better; original: within the margin)",
    )
    print_table(["turn-2 step", "seconds", "result"], [list(x) for x in s.steps])
    verdict = "promoted to champion, canary started" if s.promoted else "NOT promoted, no canary"
    click.echo(f"{s.challenger}: {verdict}; champion is {project}/{_champion(project)}")
    if s.canary is not None:
        print_table(
            ["target", "weight", "requests", "errors", "p95 ms", "mean score"],
            [[t.target, t.share, t.requests, t.errors, t.p95_ms, t.mean_score] for t in s.canary.targets],
            title=f"deployment {s.deployment} revision {s.canary.revision} ({s.canary.policy}): live figures",
        )
    click.echo("lineage: " + " <- ".join(s.lineage))
    click.echo(
        f"look closer: llmloop deploy status {s.deployment} -p {project}; llmloop models lineage {s.challenger} -p {project}"
    )


def _drift(s: Turn2Outcome) -> None:
    """What production's watch saw: the drift test, the alert, the texts behind it, the trigger."""
    if s.drift is not None:
        d = s.drift
        click.echo(
            f"drift monitor: {d.method} p={d.p_value:.2g} (alpha {d.alpha:.2g}) on {d.n_current} traces vs "
            f"{d.n_reference} reference texts: {'DRIFTED' if d.drifted else 'no drift'}"
        )
        for e in d.examples[:3]:
            click.echo(f"  e.g. {e.text.splitlines()[0][:100]!r} ({e.reason})")
    if s.alert is not None:
        click.echo(f"alert {s.alert.rule} ({s.alert.severity}): {s.alert.message}")
    if s.trigger is not None:
        click.echo(f"trigger {s.trigger.trigger}: {s.trigger.outcome}")


def _champion(project: str) -> str:
    import llmloop as ll

    return str(ll.models.get("travel-sft@champion", project=project).ref)
