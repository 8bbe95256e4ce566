"""``llmloop traces list|show``."""

from __future__ import annotations

import re
import time

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.errors import InvalidInput
from llmloop.sdk.traces import get_trace, list_traces
from llmloop.services.observe.schemas import Span, TraceSearch
from llmloop.services.serve.schemas import Feedback

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str | None) -> float | None:
    """``15m``, ``2h``, ``1d`` ago, or epoch seconds."""
    if text is None:
        return None
    m = _AGO.match(text)
    if m:
        return time.time() - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(
            f"--since {text!r}: use e.g. 15m, 2h, 1d or epoch seconds", details={"flag": "--since"}
        ) from None


@click.group()
def traces() -> None:
    """Traces recorded by ll.span / @ll.trace, chains and the playground."""


@traces.command("list")
@click.option("--project", "-p", default=None, help="Only this project (default: all you can read).")
@click.option("--since", default=None, help="Started within, e.g. 15m, 2h, 1d (or epoch seconds).")
@click.option("--model", default=None)
@click.option("--user", "user_id", default=None)
@click.option("--status", type=click.Choice(["ok", "error"]), default=None)
@click.option("--min-ms", "min_duration_ms", type=float, default=None, help="Slower than this many ms.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_cmd(
    project: str | None,
    since: str | None,
    model: str | None,
    user_id: str | None,
    status: str | None,
    min_duration_ms: float | None,
    limit: int,
    json_: bool,
) -> None:
    """Traces, newest first."""
    page = list_traces(
        TraceSearch.model_validate(
            {
                "project": project,
                "since": _since(since),
                "model": model,
                "user_id": user_id,
                "status": status,
                "min_duration_ms": min_duration_ms,
                "limit": limit,
            }
        )
    )
    if json_:
        print_json(page)
        return
    rows = [
        [
            t.trace_id,
            t.project,
            t.name,
            t.status,
            fmt_time(t.start_time),
            round(t.duration_ms, 1),
            t.span_count,
            t.model,
        ]
        for t in page.items
    ]
    print_table(["trace", "project", "name", "status", "started", "ms", "spans", "model"], rows)


@traces.command("show")
@click.argument("trace_id")
@json_option
def show_cmd(trace_id: str, json_: bool) -> None:
    """One trace as a tree of spans, then the feedback given on it."""
    trace = get_trace(trace_id)
    if json_:
        print_json(trace)
        return
    click.echo(f"trace {trace.trace_id}  {trace.name}  [{trace.status}]  project={trace.project}")
    click.echo(f"started {fmt_time(trace.start_time)}  {trace.duration_ms:.1f} ms  {trace.span_count} spans")
    children: dict[str | None, list[Span]] = {}
    ids = {s.span_id for s in trace.spans}
    for s in trace.spans:
        children.setdefault(s.parent_span_id if s.parent_span_id in ids else None, []).append(s)

    def walk(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            mark = " !" if s.status_code == "error" else ""
            click.echo(f"{'  ' * depth}- {s.name}  {s.duration_ms:.1f} ms{mark}")
            walk(s.span_id, depth + 1)

    walk(None, 1)
    _show_feedback(trace.feedback)


# Who gave it and when close each line; every other field that is set is shown, so a field added
# to ``Feedback`` appears here as it does in ``--json``.
_FEEDBACK_META = {"id", "trace_id", "project", "created_at", "created_by"}


def _show_feedback(items: list[Feedback]) -> None:
    if not items:
        click.echo("feedback: none")
        return
    click.echo(f"feedback ({len(items)}):")
    for fb in items:
        shown = [
            f"{name} {value:g}" if isinstance(value, float) else f"{name} {value!r}"
            for name, value in fb.model_dump(exclude=_FEEDBACK_META, exclude_none=True).items()
        ]
        click.echo(f"  - {'  '.join(shown)}  by {fb.created_by or '-'} at {fmt_time(fb.created_at)}")
