"""``llmloop sweep CONFIG [--executor local|ray|ray://host:port] [--promote]``."""

from __future__ import annotations

import click

from llmloop.cli._output import json_option, print_json, print_table


@click.command("sweep")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--executor", default=None, help="local (processes) or ray / ray://host:port (default: LLMLOOP_EXECUTOR)."
)
@click.option("--promote/--no-promote", default=None, help="Register the best trial as a model version.")
@json_option
def sweep(config: str, executor: str | None, promote: bool | None, json_: bool) -> None:
    """Search training hyper-parameters (Optuna TPE + median pruning); running it again resumes it."""
    from llmloop.sdk import train as sdk

    result = sdk.sweep(config, executor=executor, promote=promote)
    if json_:
        print_json(result)
        return
    rows = [
        [
            t.number,
            t.state,
            t.value,
            ", ".join(f"{k}={v}" for k, v in t.params.items()),
            (t.run_id or "-")[:12],
        ]
        for t in result.trials
    ]
    print_table(
        ["trial", "state", "value", "params", "run"], rows, title=f"sweep {result.name} ({result.executor})"
    )
    if result.best is not None:
        click.echo(f"best: trial {result.best.number} value {result.best.value:.6g} run {result.best.run_id}")
    click.echo(f"parent run {result.run_id}; ran {result.ran_now} trial(s) now; plot: {result.plot or '-'}")
    if result.model_version:
        click.echo(f"model version {result.model_version}")
