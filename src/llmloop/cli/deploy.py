"""``llmloop deploy create|list|show|status|rollback``: deployments, through ``get_client().deployments``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llmloop.cli._durations import parse_since
from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.errors import InvalidInput
from llmloop.services.serve.schemas import Deployment, DeploymentCreate, DeploymentSpec

if TYPE_CHECKING:
    from llmloop.client.deployments import Deployments


def _api() -> Deployments:
    from llmloop.client import get_client

    return get_client().deployments


def _spec(
    spec: str | None, model: str | None, upstream: str | None, timeout_s: float | None
) -> DeploymentSpec:
    if spec is not None:
        text = Path(spec[1:]).read_text(encoding="utf-8") if spec.startswith("@") else spec
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidInput(f"--spec is not valid JSON: {e}", details={"flag": "--spec"}) from None
        if timeout_s is not None:
            data["timeout_s"] = timeout_s
        return DeploymentSpec.model_validate(data)
    if model is None:
        raise InvalidInput("give --model (and optionally --upstream) or --spec", details={"flag": "--model"})
    single: dict[str, Any] = {"targets": [{"model": model, "upstream": upstream}]}
    if timeout_s is not None:
        single["timeout_s"] = timeout_s
    return DeploymentSpec.model_validate(single)


def _show(d: Deployment, json_: bool) -> None:
    if json_:
        print_json(d)
        return
    click.echo(
        f"deployment {d.name}  revision {d.revision}/{d.latest_revision}  project={d.project}  policy={d.spec.policy}"
    )
    for t in d.spec.targets:
        click.echo(f"  target   {t.label}  weight={t.weight:g}")
    for t in d.spec.fallbacks:
        click.echo(f"  fallback {t.label}")
    for t in d.spec.shadow:
        click.echo(f"  shadow   {t.label}")


def _num(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


@click.group()
def deploy() -> None:
    """Deployments: a public model name routed to models or upstreams, with immutable revisions."""


@deploy.command("create")
@click.argument("name")
@click.option("--model", default=None, help="Model reference (or the upstream's model name).")
@click.option("--upstream", default=None, help="Base URL of an OpenAI-compatible API, e.g. http://host/v1.")
@click.option(
    "--spec", default=None, help="Whole spec as JSON, or @FILE: policy, targets, shadow, fallbacks."
)
@click.option("--timeout", "timeout_s", type=float, default=None, help="Per-target timeout in seconds.")
@click.option("--project", "-p", default=None)
@click.option("--message", "-m", default="", help="Why this revision.")
@json_option
def create_cmd(
    name: str,
    model: str | None,
    upstream: str | None,
    spec: str | None,
    timeout_s: float | None,
    project: str | None,
    message: str,
    json_: bool,
) -> None:
    """Write a new revision of NAME (the first creates it)."""
    body = DeploymentCreate(
        name=name, project=project, spec=_spec(spec, model, upstream, timeout_s), message=message
    )
    _show(_api().create_deployment(body), json_)


@deploy.command("list")
@click.option("--project", "-p", default=None)
@json_option
def list_cmd(project: str | None, json_: bool) -> None:
    """Deployments at their latest revision."""
    page = _api().list_deployments(project)
    if json_:
        print_json(page)
        return
    rows = [
        [
            d.name,
            d.revision,
            d.spec.policy,
            ", ".join(t.label for t in d.spec.targets),
            fmt_time(d.created_at),
        ]
        for d in page.items
    ]
    print_table(["name", "revision", "policy", "targets", "updated"], rows)


@deploy.command("show")
@click.argument("name")
@click.option("--revision", type=click.IntRange(1), default=None)
@click.option("--project", "-p", default=None)
@json_option
def show_cmd(name: str, revision: int | None, project: str | None, json_: bool) -> None:
    """One deployment (latest revision unless --revision)."""
    _show(_api().get_deployment(name, project, revision), json_)


@deploy.command("status")
@click.argument("name")
@click.option(
    "--since",
    default=None,
    help="Window start: 24h / 7d, an ISO date, or unix seconds (default: when the latest revision was written).",
)
@click.option("--project", "-p", default=None)
@json_option
def status_cmd(name: str, since: str | None, project: str | None, json_: bool) -> None:
    """Live figures per target of NAME: requests, error rate, p50/p95 latency, mean feedback score."""
    start = parse_since(since) if since is not None else None
    st = _api().deployment_status(name, project, start)
    if json_:
        print_json(st)
        return
    rows = [
        [
            t.target,
            _num(t.share, ".0%"),
            t.requests,
            f"{t.errors} ({_num(t.error_rate, '.1%')})",
            _num(t.p50_ms, ".1f"),
            _num(t.p95_ms, ".1f"),
            f"{_num(t.mean_score, '.3f')} (n={t.scored})",
        ]
        for t in st.targets
    ]
    title = f"{st.name} revision {st.revision} ({st.policy}) since {fmt_time(st.since)}"
    headers = ["target", "weight", "requests", "errors", "p50 ms", "p95 ms", "mean score"]
    print_table(headers, rows, title=title)


@deploy.command("rollback")
@click.argument("name")
@click.option(
    "--to", "to_revision", type=click.IntRange(1), default=None, help="Default: the previous revision."
)
@click.option("--project", "-p", default=None)
@json_option
def rollback_cmd(name: str, to_revision: int | None, project: str | None, json_: bool) -> None:
    """A new revision of NAME copying an older one."""
    _show(_api().rollback_deployment(name, project, to_revision), json_)
