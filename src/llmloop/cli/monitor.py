"""``llmloop monitor apply|list|run|results|drift|online``: monitors over sliding windows of traces and
feedback, and online evaluation of a sampled share of the traffic."""

from __future__ import annotations

from pathlib import Path

import click

from llmloop.cli._output import fmt_time, fmt_value, json_option, print_json, print_table

_project = click.option("--project", "-p", default="default", show_default=True)


@click.group()
def monitor() -> None:
    """Monitors: latency, errors, tokens, feedback and drift over sliding windows."""


@monitor.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def apply_cmd(path: Path, json_: bool) -> None:
    """Create or replace the monitors, alert rules and triggers of a YAML file (all or none)."""
    from llmloop.sdk.monitoring import monitoring

    done = monitoring.apply(path)
    if json_:
        print_json(done)
    else:
        click.echo(
            f"{len(done.monitors)} monitors, {len(done.alerts)} alert rules, {len(done.triggers)} triggers"
            + (f", {len(done.online)} online evaluators" if done.online else "")
        )


@monitor.command("list")
@_project
@json_option
def list_cmd(project: str, json_: bool) -> None:
    """The project's monitors."""
    from llmloop.client import get_client

    items = get_client().monitoring.list_monitors(project)
    if json_:
        print_json({"items": items})
        return
    rows = [[m.name, m.kind, m.metric or (m.drift.method if m.drift else ""), f"{m.window_s:g}s", m.deployment or "",
             m.model or ""] for m in items]  # fmt: skip
    print_table(["name", "kind", "measures", "window", "deployment", "model"], rows)


@monitor.command("run")
@click.option(
    "--project", "-p", default=None, help="Only this project's monitors (default: all you may run)."
)
@click.option("--monitor", "name", default=None, help="Only this monitor.")
@json_option
def run_cmd(project: str | None, name: str | None, json_: bool) -> None:
    """Run the monitors once over their windows ending now; alerts fire or resolve."""
    from llmloop.sdk.monitoring import monitoring

    run = monitoring.run(project=project, monitor=name)
    if json_:
        print_json(run)
        return
    rows = []
    for r in run.results:
        shown = r.message if r.status == "empty" else fmt_value(r.value)
        if r.drift is not None:
            shown = f"p={r.drift.p_value:.3g} ({'drifted' if r.drift.drifted else 'no drift'} at {r.drift.alpha:.3g})"
        rows.append([r.project, r.monitor, r.status, shown])
    print_table(["project", "monitor", "status", "value"], rows)
    for a in run.fired:
        click.echo(f"FIRED [{a.severity}] {a.rule}: {a.message} (alert {a.id})")
    for a in run.resolved:
        click.echo(f"resolved {a.rule} (alert {a.id})")


@monitor.command("results")
@click.argument("name")
@_project
@click.option("--limit", default=20, show_default=True)
@json_option
def results_cmd(name: str, project: str, limit: int, json_: bool) -> None:
    """A monitor's results, newest first."""
    from llmloop.client import get_client

    items = get_client().monitoring.results(project, name, limit)
    if json_:
        print_json({"items": items})
        return
    rows = [[fmt_time(r.ran_at), r.status, fmt_value(r.value), r.message[:60]] for r in items]
    print_table(["ran", "status", "value", "message"], rows)


@monitor.group("online")
def online() -> None:
    """Online evaluation: a sampled share of live traces scored by metrics (stored on the traces)."""


@online.command("list")
@_project
@json_option
def online_list_cmd(project: str, json_: bool) -> None:
    """The project's online evaluators."""
    from llmloop.sdk.monitoring import monitoring

    items = monitoring.online_evaluators(project)
    if json_:
        print_json({"items": items})
        return
    rows = [[e.name, str(e.version), f"{e.sample_rate:g}", ", ".join(m.score_name for m in e.metrics),
             e.deployment or "", e.model or ""] for e in items]  # fmt: skip
    print_table(["name", "version", "sample", "metrics", "deployment", "model"], rows)


@online.command("delete")
@click.argument("name")
@_project
def online_delete_cmd(name: str, project: str) -> None:
    """Remove evaluator NAME and the scores it stored (its spec stays in the audit log)."""
    from llmloop.sdk.monitoring import monitoring

    monitoring.delete_online(name, project)
    click.echo(f"deleted online evaluator {name!r} of {project!r} and its scores")


@online.command("run")
@click.option(
    "--project", "-p", default=None, help="Only this project's evaluators (default: all you may run)."
)
@click.option("--evaluator", "name", default=None, help="Only this evaluator.")
@json_option
def online_run_cmd(project: str | None, name: str | None, json_: bool) -> None:
    """One pass: score the sampled traces not yet scored (the scheduled monitor pass does this too)."""
    from llmloop.sdk.monitoring import monitoring

    run = monitoring.run_online(project=project, evaluator=name)
    if json_:
        print_json(run)
        return
    rows = [[p.project, p.evaluator, str(p.version), f"{p.sampled}/{p.seen}",
             ", ".join(f"{k}={v}" for k, v in p.scored.items()), str(p.awaiting_reference),
             "; ".join(p.errors)] for p in run.passes]  # fmt: skip
    print_table(["project", "evaluator", "version", "sampled", "scored", "awaiting ref", "errors"], rows)


@online.command("scores")
@click.argument("trace_id")
@_project
@json_option
def online_scores_cmd(trace_id: str, project: str, json_: bool) -> None:
    """The online scores stored on one trace."""
    from llmloop.sdk.monitoring import monitoring

    items = monitoring.online_scores(trace_id, project)
    if json_:
        print_json({"items": items})
        return
    rows = [
        [x.evaluator, str(x.version), x.metric, fmt_value(x.score), fmt_time(x.created_at)] for x in items
    ]
    print_table(["evaluator", "version", "metric", "score", "scored"], rows)
