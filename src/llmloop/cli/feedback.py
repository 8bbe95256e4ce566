"""``llmloop feedback add|list|export``: human feedback on traces, and its export to training rows."""

from __future__ import annotations

from pathlib import Path

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table


@click.group()
def feedback() -> None:
    """Human feedback on traces (scores, labels, corrections, preferences)."""


@feedback.command("add")
@click.argument("trace_id")
@click.option("--score", type=float, default=None)
@click.option("--label", default=None)
@click.option("--comment", default=None)
@click.option("--correction", default=None, help="The answer the model should have given.")
@click.option("--preferred", default=None, help="A response preferred over the traced one.")
@json_option
def add_cmd(
    trace_id: str,
    score: float | None,
    label: str | None,
    comment: str | None,
    correction: str | None,
    preferred: str | None,
    json_: bool,
) -> None:
    """Attach feedback to TRACE_ID."""
    from llmloop.sdk.feedback import feedback as give

    fb = give(trace_id, score=score, label=label, comment=comment, correction=correction, preferred=preferred)
    if json_:
        print_json(fb)
    else:
        click.echo(f"feedback {fb.id} on trace {fb.trace_id}")


@feedback.command("list")
@click.option("--trace", "trace_id", default=None)
@click.option("--project", "-p", default=None)
@json_option
def list_cmd(trace_id: str | None, project: str | None, json_: bool) -> None:
    """Feedback, newest first."""
    from llmloop.client import get_client

    items = get_client().feedback.list_feedback(trace_id=trace_id, project=project)
    if json_:
        print_json({"items": items})
        return
    rows = [[f.trace_id, f.score, f.label, (f.correction or "")[:40], fmt_time(f.created_at)] for f in items]
    print_table(["trace", "score", "label", "correction", "created"], rows)


@feedback.command("export")
@click.option("--as", "kind", type=click.Choice(["sft", "preference"]), required=True)
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSONL file to write."
)
@click.option("--project", "-p", default=None)
@click.option(
    "--dataset",
    default=None,
    help="Also register the rows as the next version of this dataset (with lineage).",
)
@click.option(
    "--approved-min-score",
    type=float,
    default=None,
    help="--as sft: also export the answers rated at least this score, as they were served.",
)
@json_option
def export_cmd(
    kind: str,
    out: Path,
    project: str | None,
    dataset: str | None,
    approved_min_score: float | None,
    json_: bool,
) -> None:
    """Corrections as chat rows (sft), or corrections and preferences as chosen/rejected pairs (preference)."""
    from dataclasses import asdict

    from llmloop.client import get_client
    from llmloop.services.serve.schemas import FeedbackExportRequest

    request = FeedbackExportRequest(
        kind="sft" if kind == "sft" else "preference",
        project=project,
        dataset=dataset,
        approved_min_score=approved_min_score,
    )
    result = get_client().feedback.export(request, out)
    if json_:
        print_json(asdict(result))
    else:
        registered = f" (registered as {result.dataset_version})" if result.dataset_version else ""
        click.echo(
            f"{result.rows} {result.kind} rows from {len(result.trace_ids)} traces → {result.path}{registered}"
        )
