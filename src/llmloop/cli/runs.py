"""``llmloop runs list|show|compare``."""

from __future__ import annotations

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.client import get_client
from llmloop.services.tracking.schemas import Run, RunSearch


@click.group()
def runs() -> None:
    """Experiment runs: list, show, compare."""


@runs.command("list")
@click.option("--project", "-p", default=None, help="Only this project (default: all you can read).")
@click.option("--filter", "filter_", default=None, help="e.g. \"metrics.loss < 0.5 and params.lr = '0.01'\".")
@click.option("--order-by", multiple=True, help="e.g. 'metrics.loss ASC' (repeatable).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_runs(
    project: str | None, filter_: str | None, order_by: tuple[str, ...], limit: int, json_: bool
) -> None:
    """List runs, newest first."""
    page = get_client().runs.search_runs(
        RunSearch(project=project, filter=filter_, order_by=list(order_by), limit=limit)
    )
    if json_:
        print_json(page)
        return
    metric_keys = sorted({k for r in page.items for k in r.metrics})[:6]
    rows = [
        [
            r.id[:12],
            r.project,
            r.name,
            r.status,
            fmt_time(r.start_time),
            *(r.metrics.get(k) for k in metric_keys),
        ]
        for r in page.items
    ]
    print_table(["id", "project", "name", "status", "started", *metric_keys], rows)


@runs.command("show")
@click.argument("run_id")
@json_option
def show_run(run_id: str, json_: bool) -> None:
    """Show one run: params, latest metrics, tags, artifacts, environment."""
    run = get_client().runs.get_run(run_id)
    if json_:
        print_json(run)
        return
    _print_run(run)


def _print_run(run: Run) -> None:
    click.echo(f"run {run.id}  {run.name}  [{run.status}]  project={run.project}")
    click.echo(f"started {fmt_time(run.start_time)}  ended {fmt_time(run.end_time)}")
    if run.parent_id:
        click.echo(f"parent {run.parent_id}")
    if run.params:
        print_table(["param", "value"], sorted(run.params.items()))
    if run.metrics:
        print_table(["metric", "latest"], sorted(run.metrics.items()))
    if run.tags:
        print_table(["tag", "value"], sorted(run.tags.items()))
    if run.artifacts:
        print_table(["artifact", "size", "sha256"], [[a.path, a.size, a.sha256[:16]] for a in run.artifacts])
    env = run.env or {}
    if env:
        click.echo(
            f"git {env.get('git_sha') or '-'}  python {env.get('python', '-')}  host {env.get('host', '-')}"
        )


@runs.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@json_option
def compare_runs(run_ids: tuple[str, ...], json_: bool) -> None:
    """Params and latest metrics of several runs side by side; differing params are marked."""
    if len(run_ids) < 2:
        raise click.UsageError("compare needs at least two run ids")
    client = get_client()
    items = [client.runs.get_run(r) for r in run_ids]
    if json_:
        print_json({"runs": items})
        return
    headers = ["", *(f"{r.name} ({r.id[:8]})" for r in items)]
    param_keys = sorted({k for r in items for k in r.params})
    metric_keys = sorted({k for r in items for k in r.metrics})
    rows: list[list[object]] = []
    for k in param_keys:
        values = [r.params.get(k) for r in items]
        mark = " *" if len(set(values)) > 1 else ""
        rows.append([f"params.{k}{mark}", *values])
    for k in metric_keys:
        rows.append([f"metrics.{k}", *(r.metrics.get(k) for r in items)])
    rows.append(["status", *(r.status for r in items)])
    print_table(headers, rows, title="* = differs")
