"""``llmloop models list|show|versions|register|add-base|promote|protect|unprotect|protections|history|lineage|card|export``.

The model registry from the shell, through ``ll.models`` and so through ``get_client()``: with
``LLMLOOP_SERVER_URL`` set every command talks to that server. Exit codes: 0 done; 1 a move that
its gates refused (a failed required gate of ``--gate`` or of the alias's protection), like
``llmloop eval gate``; 2 an error (bad input, not found, not allowed, …).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.cli._tree import tree_lines
from llmloop.engines.spec import QUANTIZATIONS
from llmloop.errors import Conflict
from llmloop.sdk.models import models as api
from llmloop.services.registry.default import DEFAULT_MODEL
from llmloop.services.registry.schemas import ModelVersion, PromotionResult

project_option = click.option(
    "--project", "-p", default=None, help="Project (default: LLMLOOP_DEFAULT_PROJECT)."
)


@click.group()
def models() -> None:
    """Models: base models and fine-tunes as immutable versions, aliases behind gates, lineage, cards."""


def _params(n: int | None) -> str:
    if not n:
        return "-"
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}K"


def _base(v: ModelVersion) -> str:
    return v.base.version or f"{v.base.kind}:{Path(v.base.uri).name if v.base.kind != 'hub' else v.base.uri}"


@models.command("list")
@project_option
@json_option
def list_(project: str | None, json_: bool) -> None:
    """Models you can read, with their latest version and aliases."""
    items = api.list(project=project)
    if json_:
        print_json(items)
        return
    rows = [
        [
            m.project,
            m.name,
            m.latest_version,
            m.versions,
            ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items())),
        ]
        for m in items
    ]
    print_table(["Project", "Name", "Latest", "Versions", "Aliases"], rows, title="Models")


@models.command("show")
@click.argument("ref")
@project_option
@json_option
def show(ref: str, project: str | None, json_: bool) -> None:
    """One version in full: REF is NAME, NAME@VERSION or NAME@ALIAS."""
    v = api.get(ref, project=project)
    if json_:
        print_json(v)
        return
    rows: list[list[Any]] = [
        ["Reference", v.ref],
        ["Aliases", ", ".join(v.aliases) or "-"],
        ["Base", f"{v.base.kind}: {v.base.uri}"],
        ["Built on", v.base.version],
        ["Base sha256", v.base.sha256],
        ["Architecture", v.architecture],
        ["Parameters", _params(v.parameters)],
        ["Quantization", v.quantization],
        ["Context length", v.context_length],
        ["License", v.license],
        ["Default engine", v.default_engine],
        ["Run", v.run_id],
        ["Source", v.source],
        ["Created", f"{fmt_time(v.created_at)} by {v.created_by or '-'}"],
        ["Description", v.description or "-"],
    ]
    if v.adapter is not None:
        a = v.adapter
        rows += [
            ["Adapter", f"{a.peft_type} r={a.rank} alpha={a.alpha} on {', '.join(a.target_modules)}"],
            ["Adapter sha256", a.sha256],
        ]
    if v.upstream is not None:
        rows.append(
            [
                "Upstream",
                f"{v.upstream.base_url} model={v.upstream.model} key={_key_source(v.upstream)}",
            ]
        )
    print_table(["Field", "Value"], rows, title=v.ref)


@models.command("versions")
@click.argument("name")
@project_option
@json_option
def versions(name: str, project: str | None, json_: bool) -> None:
    """Every version of NAME, newest first."""
    items = api.versions(name, project=project)
    if json_:
        print_json(items)
        return
    rows = [
        [
            v.version,
            ", ".join(v.aliases) or "-",
            _base(v),
            f"r={v.adapter.rank} {v.adapter.sha256[:12]}" if v.adapter else "-",
            _params(v.parameters),
            v.quantization,
            v.source,
            fmt_time(v.created_at),
        ]
        for v in items
    ]
    print_table(
        ["Version", "Aliases", "Base", "Adapter", "Params", "Quant", "Source", "Created"], rows, title=name
    )


def _registered(v: ModelVersion, json_: bool) -> None:
    if json_:
        print_json(v)
    else:
        adapter = f" + LoRA r={v.adapter.rank}" if v.adapter else ""
        click.echo(
            f"registered {v.ref}: {_base(v)}{adapter}, {_params(v.parameters)} parameters, engine {v.default_engine}"
        )


@models.command("add-base")
@click.argument("name", default=DEFAULT_MODEL)
@click.argument("path", required=False)
@click.option(
    "--license", "license_", default=None, help="License of the weights (default: from GGUF metadata)."
)
@click.option(
    "--chat-template",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A Jinja chat template file.",
)
@click.option("--description", default="", help="What this model is.")
@project_option
@json_option
def add_base(
    name: str,
    path: str | None,
    license_: str | None,
    chat_template: str | None,
    description: str,
    project: str | None,
    json_: bool,
) -> None:
    """Register PATH (a Hugging Face folder or GGUF file) as base model NAME; no arguments: the packaged smollm2-135m-instruct."""
    template = Path(chat_template).read_text(encoding="utf-8") if chat_template else None
    v = api.add_base(
        name, path, project=project, description=description, license=license_, chat_template=template
    )
    _registered(v, json_)


@models.command("register")
@click.argument("name")
@click.option("--base", default=None, help="A Hugging Face folder, GGUF file or hub id (org/name).")
@click.option("--base-model", default=None, help="A registered model reference the version builds on.")
@click.option(
    "--adapter", type=click.Path(exists=True, file_okay=False), default=None, help="A PEFT LoRA folder."
)
@click.option(
    "--upstream-url", default=None, help="An OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."
)
@click.option("--upstream-model", default=None, help="The model name the upstream knows.")
@click.option(
    "--api-key-secret",
    default=None,
    help="Name of the stored secret holding the upstream's key (`llmloop secrets set PROJECT NAME`).",
)
@click.option(
    "--api-key-env",
    default=None,
    help="Name of an environment variable holding the key: only one the server's operator allows "
    "(LLMLOOP_UPSTREAM_ENV_ALLOW).",
)
@click.option("--engine", type=click.Choice(["transformers", "llamacpp", "vllm", "openai"]), default=None)
@click.option(
    "--quantization",
    type=click.Choice(sorted(QUANTIZATIONS)),
    default=None,
    help="Quantise the weights when loading them (int8-dynamic: the transformers engine, on CPU).",
)
@click.option("--run-id", default=None, help="The run that produced it (lineage).")
@click.option("--description", default="", help="What this version is.")
@project_option
@json_option
def register(
    name: str,
    base: str | None,
    base_model: str | None,
    adapter: str | None,
    upstream_url: str | None,
    upstream_model: str | None,
    api_key_secret: str | None,
    api_key_env: str | None,
    engine: str | None,
    quantization: str | None,
    run_id: str | None,
    description: str,
    project: str | None,
    json_: bool,
) -> None:
    """Register a new version of NAME: a base (or a registered one) with an optional LoRA adapter, or an upstream."""
    upstream = None
    if upstream_url or upstream_model:
        upstream = {
            "base_url": upstream_url or "",
            "model": upstream_model or "",
            "api_key_secret": api_key_secret,
            "api_key_env": api_key_env,
        }
    v = api.register(
        name,
        base=base,
        base_model=base_model,
        adapter=adapter,
        upstream=upstream,
        project=project,
        run_id=run_id,
        description=description,
        default_engine=engine,
        quantization=quantization,
    )
    _registered(v, json_)


@models.command("promote")
@click.argument("ref")
@click.argument("alias")
@click.option("--reason", default="", help="Why, for the alias history and the audit log.")
@click.option(
    "--gate",
    "suites",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="An eval suite YAML whose gates must pass (repeatable); compared with NAME@champion when it exists.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Skip the gates of a protected alias (needs models:force; audited as forced).",
)
@project_option
@json_option
def promote(
    ref: str,
    alias: str,
    reason: str,
    suites: tuple[str, ...],
    force: bool,
    project: str | None,
    json_: bool,
) -> None:
    """Point NAME@ALIAS at REF if the gates pass: those of --gate and of the alias's protection (exit 1 otherwise; nothing moves)."""
    gates = []
    if suites:
        from llmloop.services.evaluate.gates import promotion_gate

        gates = [promotion_gate(Path(s)) for s in suites]
    result = _gated(
        lambda: api.promote(ref, alias, project=project, gates=gates, reason=reason, force=force), json_
    )
    if json_:
        print_json(result)
        return
    name = result.ref.split("@")[0]
    was = f" (was {name}@{result.previous})" if result.previous is not None else ""
    click.echo(
        f"{name}@{alias} -> {result.ref}{was}" + (" (forced past its protection)" if result.forced else "")
    )
    for g in result.gates:
        click.echo(f"  {'pass' if g.passed else 'FAIL'} {g.name}: {g.message}")


def _gated(move: Callable[[], PromotionResult], json_: bool) -> PromotionResult:
    """The move, or exit 1 with one line on stderr when its gates said no: a check's answer, not an error."""
    try:
        return move()
    except Conflict as e:
        if "gates" not in e.details:
            raise  # a race or an existing object: an error (exit 2)
        if json_:
            print_json(e.details)
        click.echo(f"error: {e.message}", err=True)
        sys.exit(1)


@models.command("protect")
@click.argument("name")
@click.argument("alias")
@click.option(
    "--suite",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The eval suite YAML whose required gates guard every move (its text is stored).",
)
@click.option(
    "--baseline-alias", default=None, help="Compare candidates with this alias's holder (default: ALIAS)."
)
@click.option("--reason", default="", help="Why, for the audit log.")
@project_option
@json_option
def protect(
    name: str,
    alias: str,
    suite: str,
    baseline_alias: str | None,
    reason: str,
    project: str | None,
    json_: bool,
) -> None:
    """Let NAME@ALIAS move only when SUITE's required gates pass, whichever door asks (needs models:protect)."""
    done = api.protect(
        name, alias, suite=Path(suite), baseline_alias=baseline_alias, project=project, reason=reason
    )
    if json_:
        print_json(done)
        return
    click.echo(
        f"{name}@{alias} is protected by suite {done.suite_name} ({done.suite_sha256[:12]}), "
        f"compared with {name}@{done.baseline_alias}"
    )


@models.command("unprotect")
@click.argument("name")
@click.argument("alias")
@project_option
def unprotect(name: str, alias: str, project: str | None) -> None:
    """Let NAME@ALIAS move without gates again (needs models:protect)."""
    api.unprotect(name, alias, project=project)
    click.echo(f"{name}@{alias} is no longer protected")


@models.command("protections")
@click.argument("name")
@project_option
@json_option
def protections(name: str, project: str | None, json_: bool) -> None:
    """The protected aliases of NAME and the suites that guard them."""
    items = api.protections(name, project=project)
    if json_:
        print_json(items)
        return
    rows = [
        [
            p.alias,
            p.suite_name,
            p.suite_sha256[:12],
            p.baseline_alias,
            p.created_by or "-",
            fmt_time(p.created_at),
        ]
        for p in items
    ]
    print_table(
        ["Alias", "Suite", "sha256", "Baseline", "By", "Since"], rows, title=f"{name} protected aliases"
    )


@models.command("history")
@click.argument("name")
@click.option("--alias", default=None, help="Only this alias.")
@project_option
@json_option
def history(name: str, alias: str | None, project: str | None, json_: bool) -> None:
    """Every alias move of NAME, newest first, with its reason and gates."""
    items = api.history(name, project=project, alias=alias)
    if json_:
        print_json(items)
        return
    rows = [
        [
            fmt_time(e.created_at),
            e.alias,
            e.from_version,
            e.to_version,
            e.actor,
            e.reason,
            "FORCED" if e.forced else ", ".join(g.name for g in e.gates),
        ]
        for e in items
    ]
    print_table(["When", "Alias", "From", "To", "By", "Reason", "Gates"], rows, title=f"{name} alias history")


@models.command("lineage")
@click.argument("ref")
@project_option
@json_option
def lineage(ref: str, project: str | None, json_: bool) -> None:
    """Where REF came from, as a tree back to the original data (runs, datasets, base versions, and
    for a model trained on exported feedback: the feedback, the traces and the version that served
    them, and that version's own lineage), then what used REF since (evaluations, newer versions)."""
    result = api.lineage(ref, project=project)
    if json_:
        print_json(result)
        return
    if result.tree is not None:
        click.echo("\n".join(tree_lines(result.tree)))
    rows = [
        [f"{e.src_type} {e.src_id[:12]}", e.relation, f"{e.dst_type} {e.label or e.dst_id}"]
        for e in result.downstream
    ]
    if rows:
        click.echo()
        print_table(["From", "Relation", "To"], rows, title=f"what used {result.ref} since")


@models.command("card")
@click.argument("ref")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write the Markdown to a file."
)
@project_option
@json_option
def card(ref: str, output: str | None, project: str | None, json_: bool) -> None:
    """The generated Markdown model card of REF (data, training config, evaluations, alias history)."""
    markdown = api.card(ref, project=project)
    if output:
        Path(output).write_text(markdown, encoding="utf-8")
    if json_:
        print_json({"ref": api.get(ref, project=project).ref, "markdown": markdown})
    elif not output:
        click.echo(markdown)
    else:
        click.echo(f"wrote {output}")


@models.command("export")
@click.argument("ref")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hf", "gguf"]),
    default="hf",
    show_default=True,
    help="hf: a merged Hugging Face folder; gguf: one file llama.cpp serves.",
)
@click.option(
    "--dtype",
    type=click.Choice(["f16", "f32", "q8_0"]),
    default="f16",
    show_default=True,
    help="GGUF tensors.",
)
@click.option(
    "--register", "register_as", default=None, help="Also register the export as a version of this model."
)
@project_option
@json_option
def export(
    ref: str, out: Path, fmt: str, dtype: str, register_as: str | None, project: str | None, json_: bool
) -> None:
    """Merge REF's adapter into its base and write it to OUT (a new folder or .gguf file)."""
    done = api.export(
        ref,
        out,
        format="gguf" if fmt == "gguf" else "hf",
        dtype=dtype,
        project=project,
        register_as=register_as,
    )
    registered = done.registered.ref if done.registered else None
    if json_:
        print_json(
            {"source": done.source, "path": str(done.path), "format": done.format, "registered": registered}
        )
    else:
        click.echo(
            f"{done.source} → {done.path} ({done.format})"
            + (f", registered as {registered}" if registered else "")
        )


def _key_source(upstream: Any) -> str:
    """Where the upstream's key comes from, by name (never the key)."""
    if upstream.api_key_secret:
        return f"secret:{upstream.api_key_secret}"
    return f"${upstream.api_key_env}" if upstream.api_key_env else "-"
