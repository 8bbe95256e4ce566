"""The generated parts of the docs: every ``--help`` text (docs/cli.md) and every setting (docs/config.md).

    python -m tests.docs.regen           rewrite the generated sections in place (``make docs``)
    python -m tests.docs.regen --check   exit 1 naming each file that differs (what tests/docs runs)

Each generated section sits between ``<!-- BEGIN GENERATED: NAME -->`` and ``<!-- END GENERATED: NAME -->``
lines, so the prose around it (the exit codes, why a setting exists) stays hand-written. The same
idea as ``cog --check`` keeping simonw/llm's docs/help.md honest, without the extra tool. Commands
are found by walking the root click group, so a command added anywhere appears after one rerun.
Help is rendered 80 columns wide with the ``LLMLOOP_*`` environment cleared, so the text does not
depend on who runs it.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REGEN = "python -m tests.docs.regen  (or: make docs)"
WIDTH = 80


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings class, in the order docs/config.md lists them."""
    from llmloop.config import Settings
    from llmloop.security.settings import SecuritySettings
    from llmloop.services.data.settings import DataSettings
    from llmloop.services.serve.settings import GatewaySettings

    return [Settings, SecuritySettings, GatewaySettings, DataSettings]


def settings_classes_in_source() -> set[str]:
    """``module:Class`` for every class in src/ that subclasses BaseSettings (read from the code, not imported)."""
    found = set()
    for path in (ROOT / "src").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        module = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id == "BaseSettings")
                or (isinstance(b, ast.Attribute) and b.attr == "BaseSettings")
                for b in node.bases
            ):
                found.add(f"{module}:{node.name}")
    return found


@contextmanager
def neutral_environment() -> Iterator[None]:
    """No ``LLMLOOP_*`` variables and a throw-away home while help is rendered."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("LLMLOOP_")}
    with tempfile.TemporaryDirectory() as home:
        for key in saved:
            del os.environ[key]
        os.environ["LLMLOOP_HOME"] = home
        try:
            yield
        finally:
            del os.environ["LLMLOOP_HOME"]
            os.environ.update(saved)


def walk(
    group: click.Command, path: tuple[str, ...] = ("llmloop",)
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``group`` (itself first), depth first in listed order; hidden ones skipped."""
    yield path, group
    if isinstance(group, click.Group):
        ctx = click.Context(group, info_name=path[-1])
        for name in group.list_commands(ctx):
            sub = group.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, (*path, name))


def help_text(path: tuple[str, ...]) -> str:
    """What ``PATH --help`` prints, 80 columns wide."""
    from click.testing import CliRunner

    from llmloop.cli import cli

    result = CliRunner().invoke(
        cli, [*path[1:], "--help"], prog_name="llmloop", terminal_width=WIDTH, max_content_width=WIDTH
    )
    if result.exit_code != 0:
        raise RuntimeError(f"{' '.join(path)} --help exited {result.exit_code}: {result.output}")
    return result.output.rstrip() + "\n"


def cli_reference() -> str:
    """One heading and one ``text`` block per command; an alias points at the command it names."""
    from llmloop.cli import cli

    out: list[str] = []
    with neutral_environment():
        commands = list(walk(cli))
        # the same command object under two names: the one matching its own name is the real one
        canonical: dict[int, tuple[str, ...]] = {}
        for path, cmd in commands:
            if id(cmd) not in canonical or path[-1] == cmd.name:
                canonical[id(cmd)] = path
        for path, cmd in commands:
            level = "#" * min(len(path) + 1, 4)
            if canonical[id(cmd)] != path:
                out.append(f"{level} {' '.join(path)}\n\nAn alias of `{' '.join(canonical[id(cmd)])}`.\n")
            else:
                out.append(f"{level} {' '.join(path)}\n\n```text\n{help_text(path)}```\n")
    return "\n".join(out)


def _type_name(info: FieldInfo) -> str:
    text = str(info.annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("pydantic.types.", "").replace("<class '", "").replace("'>", "")
    return text.replace("NoneType", "None")


def _default(info: FieldInfo) -> str:
    value: Any = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, Path):
        value = str(value)
    return f"`{json.dumps(value)}`" if not isinstance(value, str) else f"`{value}`"


def config_reference() -> str:
    """A table per settings class: variable, type, default, description, straight from the Field()s."""
    out: list[str] = []
    for cls in settings_classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        module = sys.modules[cls.__module__]
        why = doc or (module.__doc__ or "").strip().splitlines()[0]
        out.append(f"### `{cls.__module__}.{cls.__name__}`\n\n{why.replace('``', '`')}\n")
        out.append("| variable | type | default | description |\n|---|---|---|---|")
        for name, info in cls.model_fields.items():
            description = (info.description or "").replace("|", "\\|")
            out.append(
                f"| `{prefix}{name.upper()}` | `{_type_name(info)}` | {_default(info)} | {description} |"
            )
        out.append("")
    return "\n".join(out)


# file -> {section name -> the function that renders it}
GENERATED: dict[str, dict[str, Callable[[], str]]] = {
    "cli.md": {"cli-help": cli_reference},
    "config.md": {"config": config_reference},
}


def begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED: {name} (edit the code, then: {REGEN}) -->"


def end(name: str) -> str:
    return f"<!-- END GENERATED: {name} -->"


def render(text: str, sections: dict[str, Callable[[], str]], where: str) -> str:
    """``text`` with each named section's body replaced by what its function renders now."""
    for name, make in sections.items():
        head, tail = begin(name), end(name)
        start = text.find(head)
        stop = text.find(tail)
        if start < 0 or stop < start:
            raise SystemExit(f"{where}: no '{head}' ... '{tail}' pair")
        text = text[: start + len(head)] + "\n\n" + make().rstrip() + "\n\n" + text[stop:]
    return text


def stale() -> list[str]:
    """The docs files whose generated sections differ from what the code renders now."""
    return [
        name
        for name, sections in GENERATED.items()
        if (DOCS / name).read_text() != render((DOCS / name).read_text(), sections, name)
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        files = stale()
        for name in files:
            print(f"docs/{name} is out of date; run: {REGEN}", file=sys.stderr)
        return 1 if files else 0
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    for name, sections in GENERATED.items():
        path = DOCS / name
        path.write_text(render(path.read_text(), sections, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
