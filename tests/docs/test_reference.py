"""The generated references match the code: every --help text, every setting, the exit codes."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import click
import pytest

from llmloop.errors import ERROR_CLASSES
from tests.docs import regen

CLI_MD = regen.DOCS / "cli.md"


@pytest.mark.parametrize("name", sorted(regen.GENERATED))
def test_generated_section_is_current(name: str) -> None:
    path = regen.DOCS / name
    now = path.read_text()
    want = regen.render(now, regen.GENERATED[name], name)
    diff = "".join(
        list(difflib.unified_diff(now.splitlines(True), want.splitlines(True), f"docs/{name}", "the code"))[
            :60
        ]
    )
    assert now == want, f"docs/{name} differs from what the code prints; run: {regen.REGEN}\n{diff}"


def test_every_settings_class_is_in_the_config_reference() -> None:
    listed = {f"{c.__module__}:{c.__name__}" for c in regen.settings_classes()}
    missing = regen.settings_classes_in_source() - listed
    assert not missing, f"add {sorted(missing)} to tests/docs/regen.py::settings_classes, then: {regen.REGEN}"


def test_every_setting_has_a_description() -> None:
    bare = [
        f"{cls.__name__}.{name}"
        for cls in regen.settings_classes()
        for name, info in cls.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert not bare, f"give these Field(description=...) so docs/config.md can say what they do: {bare}"


def known_variables() -> set[str]:
    return {
        f"{cls.model_config.get('env_prefix', '')}{name.upper()}"
        for cls in regen.settings_classes()
        for name in cls.model_fields
    } | {"LLMLOOP_DEBUG"}


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in regen.DOCS.glob("*.md"))])
def test_docs_name_only_variables_that_exist(page: str) -> None:
    path = regen.ROOT / page if page == "README.md" else regen.DOCS / page
    named = set(re.findall(r"\bLLMLOOP_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    unknown = {v for v in named - known_variables() if not v.startswith("LLMLOOP_TEST_")}
    assert not unknown, f"{page} names variables no settings class reads: {sorted(unknown)}"


def error_rows() -> dict[str, tuple[str, int, int]]:
    """The errors-by-class table of docs/cli.md: class -> (code, HTTP status, exit code)."""
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (\d+) \| (\d+) \|$", CLI_MD.read_text(), flags=re.M)
    return {cls: (code, int(status), int(exit_)) for cls, code, status, exit_ in rows}


def test_the_exit_code_table_matches_the_error_classes() -> None:
    documented = error_rows()
    actual = {c.__name__: (c.code, c.http_status, c.exit_code) for c in ERROR_CLASSES.values()}
    assert documented == actual


def test_the_exit_codes_documented_once_are_0_1_2_130() -> None:
    table = re.search(r"^## Exit codes\n(.*?)^## ", CLI_MD.read_text(), flags=re.M | re.S)
    assert table is not None
    assert re.findall(r"^\| (\d+) \|", table.group(1), flags=re.M) == ["0", "1", "2", "130"]


def test_an_error_exits_2_with_one_line(cli: Any) -> None:
    r = cli("runs", "show", "no-such-run")
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1


def test_a_usage_error_exits_2(cli: Any) -> None:
    assert cli("runs", "list", "--no-such-option").exit_code == 2


@click.command()
def interrupted() -> None:
    raise KeyboardInterrupt


def test_ctrl_c_exits_130(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmloop.cli import COMMANDS

    monkeypatch.setitem(COMMANDS, "interrupted", (__name__, "interrupted", "Raises KeyboardInterrupt."))
    r = cli("interrupted")
    assert (r.exit_code, r.stderr) == (130, "interrupted\n")


def test_regen_check_names_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name in regen.GENERATED:
        text = (regen.DOCS / name).read_text()
        (tmp_path / name).write_text(
            text.replace("## llmloop", "## llmloop-stale", 1) if name == "cli.md" else text
        )
    monkeypatch.setattr(regen, "DOCS", tmp_path)
    assert regen.main(["--check"]) == 1
    assert capsys.readouterr().err == f"docs/cli.md is out of date; run: {regen.REGEN}\n"
    assert regen.main([]) == 0 and regen.main(["--check"]) == 0
