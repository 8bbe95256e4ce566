"""``llmloop train CONFIG`` | ``llmloop train --plan CONFIG`` | ``llmloop train --resume RUN_ID``."""

from __future__ import annotations

import sys
from typing import Any

import click

from llmloop.cli._output import json_option, print_json
from llmloop.errors import InvalidInput


def parse_sets(sets: tuple[str, ...]) -> dict[str, Any]:
    """``--set training.max_steps=10`` → {"training.max_steps": 10}; values are YAML (numbers, true, lists)."""
    import yaml

    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidInput(
                f"--set {item!r}: expected KEY=VALUE, e.g. training.max_steps=10", details={"flag": "--set"}
            )
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise InvalidInput(
                f"--set {item!r}: value is not valid YAML ({e})", details={"flag": "--set"}
            ) from e
    return out


@click.command("train")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Validate and print derived numbers (memory, time, steps); train nothing.",
)
@click.option(
    "--resume",
    "resume_run",
    metavar="RUN_ID",
    help="Continue a crashed or killed training from its last checkpoint.",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config key (repeatable).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@json_option
def train(
    config: str | None,
    plan_only: bool,
    resume_run: str | None,
    sets: tuple[str, ...],
    no_progress: bool,
    json_: bool,
) -> None:
    """Fine-tune a model (SFT, DPO or distillation) from a YAML config, as a tracked run."""
    from llmloop.sdk import train as sdk

    if resume_run and (config or plan_only or sets):
        raise click.UsageError(
            "--resume RUN_ID takes no CONFIG, --plan or --set: the run's stored config is used"
        )
    if not resume_run and not config:
        raise click.UsageError("give a CONFIG file, or --resume RUN_ID")
    progress = not no_progress and not json_ and sys.stderr.isatty()
    if resume_run:
        _report(sdk.resume(resume_run, progress=progress), json_)
        return
    assert config is not None
    overrides = parse_sets(sets)
    if plan_only:
        from llmloop.services.train.plan import format_plan

        plan = sdk.plan(config, overrides=overrides)
        if json_:
            print_json(plan)
        else:
            click.echo(format_plan(plan))
        if not plan.fits:
            sys.exit(1)
        return
    _report(sdk.train(config, overrides=overrides, progress=progress), json_)


def _report(result: Any, json_: bool) -> None:
    if json_:
        print_json(result)
        return
    losses = ", ".join(
        f"{name} {value:.4f}"
        for name, value in (("train loss", result.train_loss), ("eval loss", result.eval_loss))
        if value is not None
    )
    click.echo(
        f"run {result.run_id} {result.status}: {result.steps}/{result.total_steps} steps{', ' + losses if losses else ''}"
    )
    if result.resumed_from:
        click.echo(f"resumed from run {result.resumed_from}")
    if result.dataset_version:
        click.echo(f"teacher answers stored as {result.dataset_version}")
    prefix = result.artifacts[0].split("/", 1)[0] if result.artifacts else "adapter"
    click.echo(f"{prefix} stored with the run ({len(result.artifacts)} files): {result.output_dir}")
    click.echo(
        f"model version {result.model_version}"
        if result.model_version
        else "model version: not registered (no models registry)"
    )
