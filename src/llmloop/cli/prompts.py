"""``llmloop prompts create|list|show|versions|render|diff|alias``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.client import get_client
from llmloop.config import get_settings
from llmloop.errors import InvalidInput
from llmloop.services.prompts.files import prompt_spec, read_mapping, spec_from_file
from llmloop.services.prompts.schemas import PromptVersion, RenderRequest
from llmloop.services.prompts.variables import parse_text

project_option = click.option("--project", "-p", default=None, help="Project (default: the configured one).")


def _project(project: str | None) -> str:
    return project or get_settings().default_project


@click.group()
def prompts() -> None:
    """Prompt registry: versioned templates, aliases, diffs, rendering."""


@prompts.command("create")
@click.argument("name")
@click.option(
    "--file", "-f", "file_", type=click.Path(path_type=Path), help="YAML or JSON prompt definition."
)
@click.option("--template", "-t", default=None, help="A text template, instead of a file.")
@click.option("--declare", "-d", multiple=True, help="Declare a variable: NAME or NAME:TYPE (repeatable).")
@click.option("--message", "-m", default=None, help="Commit message of this version.")
@project_option
@json_option
def create_prompt(
    name: str,
    file_: Path | None,
    template: str | None,
    declare: tuple[str, ...],
    message: str | None,
    project: str | None,
    json_: bool,
) -> None:
    """Make a new version of NAME from a file (messages or template, variables, params, few_shot)."""
    if file_ is not None and template is None:
        spec = spec_from_file(
            file_,
            name=name,
            project=project,
            default_project=get_settings().default_project,
            declare=declare,
            message=message,
        )
    elif template is not None and file_ is None:
        spec = prompt_spec(
            {"template": template},
            name=name,
            project=_project(project),
            declare=declare,
            message=message,
            where="--template",
        )
    else:
        raise click.UsageError("give either --file or --template")
    version = get_client().prompts.create_version(spec)
    if json_:
        print_json(version)
        return
    click.echo(f"{version.project}/{version.ref}  {version.content_hash[:12]}  {version.message}")


@prompts.command("list")
@project_option
@json_option
def list_prompts(project: str | None, json_: bool) -> None:
    """Prompts in a project with their latest version and aliases."""
    page = get_client().prompts.list_prompts(_project(project))
    if json_:
        print_json(page)
        return
    rows = [
        [
            p.name,
            p.latest_version,
            ", ".join(f"{a}→{v}" for a, v in sorted(p.aliases.items())),
            fmt_time(p.updated_at),
        ]
        for p in page.items
    ]
    print_table(["name", "latest", "aliases", "updated"], rows)


def _print_version(v: PromptVersion) -> None:
    aliases = f"  [{', '.join(v.aliases)}]" if v.aliases else ""
    click.echo(f"{v.project}/{v.ref}  {v.kind}{aliases}  {fmt_time(v.created_at)}  {v.message}")
    if v.messages is not None:
        for m in v.messages:
            click.echo(f"--- {m.role}")
            click.echo(m.content)
    else:
        click.echo("--- template")
        click.echo(v.template or "")
    if v.variables:
        print_table(
            ["variable", "type", "required", "default"],
            [[n, var.type, var.required, var.default] for n, var in v.variables.items()],
        )
    params = v.params.model_dump(exclude_none=True)
    if params:
        click.echo("params: " + json.dumps(params))
    if v.few_shot is not None:
        fs = v.few_shot
        source = fs.examples_from or f"{len(fs.examples)} inline examples"
        click.echo(f"few-shot: {fs.strategy}, k={fs.k or '-'}, from {source}")


@prompts.command("show")
@click.argument("ref")
@project_option
@json_option
def show_prompt(ref: str, project: str | None, json_: bool) -> None:
    """Show one version: NAME (latest), NAME@VERSION or NAME@ALIAS."""
    version = get_client().prompts.get_version(ref, _project(project))
    if json_:
        print_json(version)
        return
    _print_version(version)


@prompts.command("versions")
@click.argument("name")
@project_option
@json_option
def list_versions(name: str, project: str | None, json_: bool) -> None:
    """Every version of NAME, newest first."""
    items = get_client().prompts.list_versions(name, _project(project))
    if json_:
        print_json({"items": items})
        return
    print_table(
        ["version", "aliases", "created", "by", "message"],
        [[v.version, ", ".join(v.aliases), fmt_time(v.created_at), v.created_by, v.message] for v in items],
    )


@prompts.command("render")
@click.argument("ref")
@click.option(
    "--var", "-v", "pairs", multiple=True, help="NAME=VALUE, parsed as the variable's declared type."
)
@click.option("--vars-file", type=click.Path(path_type=Path), help="A JSON or YAML mapping of variables.")
@click.option("--context-window", type=click.IntRange(1), default=None, help="Token budget for the prompt.")
@project_option
@json_option
def render_prompt(
    ref: str,
    pairs: tuple[str, ...],
    vars_file: Path | None,
    context_window: int | None,
    project: str | None,
    json_: bool,
) -> None:
    """Render a version with variables and print the messages."""
    client = get_client().prompts
    proj = _project(project)
    version = client.get_version(ref, proj)
    variables: dict[str, Any] = (
        read_mapping(vars_file, what="a mapping of variables") if vars_file is not None else {}
    )
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise InvalidInput(f"--var {pair!r}: expected NAME=VALUE", details={"flag": "--var"})
        variables[name] = parse_text(name, version.variables.get(name), text)
    rendered = client.render(
        version.ref, RenderRequest(project=proj, variables=variables, context_window=context_window)
    )
    if json_:
        print_json(rendered)
        return
    for m in rendered.messages:
        click.echo(f"--- {m['role']}")
        click.echo(m["content"])
    if rendered.examples_dropped:
        click.echo(
            f"({rendered.examples_dropped} few-shot examples dropped to fit the token budget)", err=True
        )


@prompts.command("diff")
@click.argument("a")
@click.argument("b")
@project_option
@json_option
def diff_prompts(a: str, b: str, project: str | None, json_: bool) -> None:
    """What changed from A to B (e.g. 'recommend@1 recommend@2', or 'recommend@1 2')."""
    diff = get_client().prompts.diff_versions(a, b, _project(project))
    if json_:
        print_json(diff)
        return
    click.echo(diff.diff if diff.diff else f"{diff.from_ref} and {diff.to_ref} are identical")


@prompts.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=click.IntRange(1), required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead.")
@project_option
@json_option
def alias_prompt(
    name: str, alias: str, version: int | None, delete: bool, project: str | None, json_: bool
) -> None:
    """Point NAME@ALIAS at VERSION (or --delete it)."""
    client = get_client().prompts
    if delete:
        client.delete_alias(name, alias, _project(project))
        if json_:
            print_json({"name": name, "alias": alias, "deleted": True})
        else:
            click.echo(f"removed {name}@{alias}")
        return
    if version is None:
        raise click.UsageError("give the VERSION the alias should point at (or --delete)")
    target = client.set_alias(name, alias, version, _project(project))
    if json_:
        print_json(target)
        return
    click.echo(f"{name}@{alias} -> {target.version}")
