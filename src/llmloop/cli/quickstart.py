"""``llmloop quickstart``: the offline half of the loop on the travel example, in one command.

What ``make demo`` runs. The steps live in ``llmloop.examples.travel.loop`` (plain SDK calls);
this module only chooses the budget and prints what happened and where to look next.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from llmloop.cli._output import print_table
from llmloop.config import get_settings


@click.command()
@click.option("--seed", default=0, show_default=True, help="Seed for the data, the split and the training.")
@click.option("--project", default="travel", show_default=True, help="Project that holds everything.")
@click.option(
    "--sft-steps",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="LoRA SFT steps (about 10 s each on 2 CPU cores).",
)
@click.option(
    "--eval-rows",
    default=64,
    show_default=True,
    type=click.IntRange(2, 200),
    help="Held-out requests each model answers.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the data files and the report go (default: LLMLOOP_HOME/quickstart).",
)
@click.option("--serve", is_flag=True, help="Then serve the web UI (and the API) on 127.0.0.1:--port.")
@click.option("--port", default=7788, show_default=True, type=click.IntRange(1, 65535))
def quickstart(
    seed: int, project: str, sft_steps: int, eval_rows: int, workdir: Path | None, serve: bool, port: int
) -> None:
    """Data → prompt → evaluate SmolLM2 → LoRA SFT → evaluate → compare → gate → promote."""
    from llmloop.examples.travel.loop import LoopSettings, run_loop

    t0 = time.time()
    settings = get_settings()
    folder = workdir or Path(settings.home) / "quickstart"
    loop = LoopSettings(workdir=folder, project=project, seed=seed, sft_steps=sft_steps, eval_rows=eval_rows)
    summary = run_loop(loop, announce=click.echo)

    rows = []
    pair = summary.comparison.pairs[0]
    for delta in pair.metrics:
        ci = "" if delta.ci_low is None else f"[{delta.ci_low:+.3f}, {delta.ci_high:+.3f}]"
        rows.append([delta.key, delta.baseline, delta.candidate, delta.delta, ci, delta.p_value])
    print_table(
        ["metric", pair.baseline_model, pair.candidate_model, "delta", "95% CI", "p"],
        rows,
        title="base vs fine-tune on held-out travel requests",
    )
    print_table(
        ["gate", "status", "observed", "required"],
        [[r.rule, r.status, r.observed, r.required] for r in summary.verdict.results],
        title="promotion gates",
    )
    print_table(["step", "seconds", "result"], [[s.name, s.seconds, s.detail] for s in summary.steps])
    verdict = "promoted to champion" if summary.promoted else "NOT promoted (a required gate failed)"
    click.echo(f"{summary.model_version}: {verdict}")
    click.echo(f"report: {summary.comparison.report_path}/report.html")
    click.echo(f"store: {settings.resolved_database_url}  artifacts: {settings.resolved_artifacts_url}")
    click.echo(
        f"look closer: llmloop models list --project {project}; "
        f"llmloop eval compare {summary.base.id} {summary.tuned.id}"
    )
    click.echo(f"done in {time.time() - t0:.0f}s")
    if serve:
        from llmloop.cli.server import server

        click.echo(f"web UI: http://127.0.0.1:{port}/?project={project}")
        click.get_current_context().invoke(server, port=port)
