"""``llmloop data add|list|show|diff|split|redact|dedup|alias|export|leakage``: datasets from the shell."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.sdk.datasets import DatasetHandle, datasets
from llmloop.services.data.kinds import KINDS, parse_mapping
from llmloop.services.data.schemas import DatasetVersion, Profile

if TYPE_CHECKING:
    from llmloop.services.data.ingest import Progress as ProgressFn

project_option = click.option(
    "--project", "-p", default=None, help="Project (default: LLMLOOP_DEFAULT_PROJECT)."
)


@click.group()
def data() -> None:
    """Datasets: versioned, profiled, PII-scanned training and evaluation data."""


@contextmanager
def _progress(label: str) -> Iterator[ProgressFn | None]:
    """A rich progress bar on stderr while a file is read (only on a terminal)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _warnings(v: DatasetVersion) -> None:
    """What a person should know about a new version, on stderr (so ``--json`` output stays clean)."""
    if v.invalid_rows:
        skipped = v.options.get("skipped")
        first = skipped[0] if isinstance(skipped, list) and skipped else ""
        click.echo(
            f"warning: skipped {v.invalid_rows} invalid rows (--skip-invalid); first: {first}", err=True
        )
    if v.pii_total:
        found = ", ".join(f"{n} {k}" for k, n in v.profile.pii.items() if n)
        click.echo(
            f"warning: PII found in {v.ref}: {found}; make a redacted version with: llmloop data redact {v.ref}",
            err=True,
        )


def _report(handle: DatasetHandle, verb: str, json_: bool) -> None:
    v = handle.info
    if json_:
        print_json({"created": handle.created, "version": v})
    elif handle.created:
        click.echo(f"{verb} {v.ref}: {v.rows} rows, {v.kind}, content {v.content_hash[:12]}")
    else:
        click.echo(f"{v.ref} already holds this content: nothing new added")
    _warnings(v)


@data.command("add")
@click.argument("name")
@click.argument("path")
@click.option(
    "--schema", "kind", type=click.Choice(KINDS), default=None, help="Row schema (default: detected)."
)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv", "parquet", "hf"]), default=None)
@click.option("--map", "mapping", multiple=True, metavar="SOURCE=TARGET", help="Rename a field (repeatable).")
@click.option("--skip-invalid", is_flag=True, help="Skip bad rows (counted) instead of failing.")
@click.option(
    "--pii",
    type=click.Choice(["warn", "block"]),
    default="warn",
    show_default=True,
    help="On PII: warn, or refuse to add the version.",
)
@click.option("--tokenizer", default=None, help="Local Hugging Face tokenizer folder for token lengths.")
@click.option("--description", default="", help="What this data set is.")
@project_option
@json_option
def add(
    name: str,
    path: str,
    kind: str | None,
    fmt: str | None,
    mapping: tuple[str, ...],
    skip_invalid: bool,
    pii: str,
    tokenizer: str | None,
    description: str,
    project: str | None,
    json_: bool,
) -> None:
    """Add PATH (file, folder, glob or fsspec URL) as a new version of NAME; identical content is not duplicated."""
    with _progress(f"adding {name}") as progress:
        handle = datasets.add(
            name,
            path,
            schema=kind,  # type: ignore[arg-type]
            project=project,
            format=fmt,
            map=parse_mapping(mapping),
            skip_invalid=skip_invalid,
            pii=pii,  # type: ignore[arg-type]
            tokenizer=tokenizer,
            description=description,
            progress=progress,
        )
    _report(handle, "added", json_)


@data.command("list")
@project_option
@json_option
def list_(project: str | None, json_: bool) -> None:
    """Datasets and their latest versions."""
    items = datasets.list(project)
    if json_:
        print_json({"items": items})
        return
    rows = [
        [
            d.project,
            d.name,
            d.latest_version,
            d.versions,
            ", ".join(f"{a}→{v}" for a, v in d.aliases.items()),
            fmt_time(d.created_at),
        ]
        for d in items
    ]
    print_table(["project", "name", "latest", "versions", "aliases", "created"], rows)


def _print_profile(p: Profile) -> None:
    click.echo(f"rows {p.rows}  invalid {p.invalid_rows}  empty {p.empty_rows}  tokenizer {p.tokenizer}")
    short = {"credit_card": "card", "national_id": "nat. id"}
    print_table(
        ["field", "values", "empty", "p50", "p90", "p99", "max", *[short.get(k, k) for k in p.pii]],
        [
            [name, f.values, f.empty, f.tokens.p50, f.tokens.p90, f.tokens.p99, f.tokens.max, *f.pii.values()]
            for name, f in p.fields.items()
        ],
        title="fields: token lengths and PII findings",
    )
    d = p.duplicates
    click.echo(
        f"duplicates: {d.exact_rows} exact rows ({d.exact_groups} groups), {d.near_rows} near ({d.near_groups} groups)"
    )
    if p.chat is not None:
        shares = ", ".join(f"{r} {s:.0%}" for r, s in p.chat.role_share.items())
        click.echo(
            f"chat: {p.chat.messages_per_row.mean:.1f} messages/row; roles {shares}; "
            f"{p.chat.rows_ending_with_assistant} rows end with an assistant turn, {p.chat.rows_without_user} have no user turn"
        )
    if p.splits:
        click.echo("splits: " + ", ".join(f"{k} {v}" for k, v in p.splits.items()))
    for leak in p.leakage or []:
        click.echo(f"leakage {leak.a}→{leak.b}: {leak.exact} exact, {leak.key} same prompt")
    if p.languages:
        click.echo("languages: " + ", ".join(f"{k} {v:.0%}" for k, v in p.languages.items()))
    if p.top_ngrams.get("2"):
        click.echo("top bigrams: " + ", ".join(f"{g.text} ({g.count})" for g in p.top_ngrams["2"][:8]))


@data.command("show")
@click.argument("ref")
@project_option
@json_option
def show(ref: str, project: str | None, json_: bool) -> None:
    """A dataset's versions, and one version (REF, default the latest) with its profile."""
    result = datasets.show(ref, project)
    if json_:
        print_json(result)
        return
    v = result.version
    click.echo(
        f"{v.project}/{v.ref}  {v.kind}  {v.rows} rows  content {v.content_hash[:16]}  from {v.source}"
    )
    if v.parent:
        click.echo(f"derived from {v.parent} ({v.relation})")
    print_table(
        ["version", "rows", "kind", "parent", "aliases", "PII", "created"],
        [
            [s.version, s.rows, s.kind, s.parent, ", ".join(s.aliases), s.pii_total, fmt_time(s.created_at)]
            for s in result.versions
        ],
    )
    _print_profile(v.profile)


@data.command("diff")
@click.argument("a")
@click.argument("b")
@project_option
@json_option
def diff(a: str, b: str, project: str | None, json_: bool) -> None:
    """Rows added, removed and changed (same prompt/input, other content) from A to B."""
    d = datasets.diff(a, b, project)
    if json_:
        print_json(d)
        return
    click.echo(
        f"{d.a} → {d.b}: +{d.added} added, -{d.removed} removed, ~{d.changed} changed, {d.unchanged} unchanged"
    )


def _parse_fractions(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(
                f"{part!r}: expected NAME=FRACTION, e.g. train=0.8,validation=0.1,test=0.1"
            )
    return out


@data.command("split")
@click.argument("ref")
@click.option("--fractions", default="train=0.8,validation=0.1,test=0.1", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--stratify", default=None, help="A field, or metadata.KEY, to split in proportion.")
@click.option(
    "--into",
    type=click.Choice(["column", "datasets"]),
    default="column",
    show_default=True,
    help="One child version with a split column, or one dataset per split (NAME-SPLIT).",
)
@project_option
@json_option
def split(
    ref: str, fractions: str, seed: int, stratify: str | None, into: str, project: str | None, json_: bool
) -> None:
    """Deterministic split by seeded hash of each row's prompt: stable when rows are added, no prompt leaks."""
    result = datasets.split(
        ref, fractions=_parse_fractions(fractions), seed=seed, stratify=stratify, into=into, project=project
    )
    if json_:
        print_json(result)
        return
    click.echo(
        "split "
        + ", ".join(f"{k} {v}" for k, v in result.counts.items())
        + " → "
        + ", ".join(v.ref for v in result.versions)
    )
    for leak in result.leakage:
        click.echo(f"leakage {leak.a}→{leak.b}: {leak.exact} exact, {leak.key} same prompt")


@data.command("redact")
@click.argument("ref")
@click.option("--kinds", default=None, help="Comma-separated PII kinds (default: all).")
@project_option
@json_option
def redact(ref: str, kinds: str | None, project: str | None, json_: bool) -> None:
    """A child version with PII replaced by typed placeholders (<EMAIL>, <PHONE>, …)."""
    handle = datasets.redact(
        ref, kinds=[k.strip() for k in kinds.split(",")] if kinds else None, project=project
    )
    _report(handle, f"redacted {ref} →", json_)


@data.command("dedup")
@click.argument("ref")
@click.option(
    "--near", is_flag=True, help="Also drop rows equal after normalising case, spaces and punctuation."
)
@project_option
@json_option
def dedup(ref: str, near: bool, project: str | None, json_: bool) -> None:
    """A child version keeping the first row of each duplicate group."""
    handle = datasets.dedup(ref, near=near, project=project)
    _report(handle, f"deduplicated {ref} →", json_)


@data.command("alias")
@click.argument("ref")
@click.argument("alias")
@project_option
@json_option
def alias(ref: str, alias: str, project: str | None, json_: bool) -> None:
    """Point NAME@ALIAS (e.g. prod) at the version REF names."""
    v = datasets.alias(ref, alias, project=project)
    if json_:
        print_json(v)
        return
    click.echo(f"{v.name}@{alias} → {v.ref}")


@data.command("export")
@click.argument("ref")
@click.argument("dest")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet", "csv", "hf"]),
    default="jsonl",
    show_default=True,
)
@click.option("--split", default=None, help="Only this split.")
@project_option
def export(ref: str, dest: str, fmt: str, split: str | None, project: str | None) -> None:
    """Write a version's rows to DEST (re-adding a JSONL export gives the same version)."""
    path = datasets.export(ref, dest, format=fmt, split=split, project=project)  # type: ignore[arg-type]
    click.echo(f"wrote {path}")


@data.command("leakage")
@click.argument("a")
@click.argument("b")
@project_option
@json_option
def leakage(a: str, b: str, project: str | None, json_: bool) -> None:
    """Rows of B that also appear in A (exactly, or with the same normalised prompt); exit 1 if any."""
    result = datasets.leakage(a, b, project)
    if json_:
        print_json(result)
    else:
        click.echo(f"{result.b} rows also in {result.a}: {result.exact} exact, {result.key} same prompt")
    if result.exact or result.key:
        sys.exit(1)
