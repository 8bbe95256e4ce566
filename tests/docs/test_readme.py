"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def test_readme_python_blocks_run(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_readme_cli_commands_exist() -> None:
    from llmloop.cli import COMMANDS

    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    for line in "\n".join(blocks).splitlines():
        if line.startswith("llmloop "):
            assert line.split()[1] in COMMANDS, line
