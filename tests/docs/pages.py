"""Run a docs page as a reader would: every ```bash command and ```python block, in order, in one folder.

A page is cut into fenced blocks. ``bash`` blocks run one command (a logical line) at a time:
a plain ``llmloop ...`` runs in-process through click's CliRunner (fast: no interpreter start),
anything with shell syntax (pipes, ``$(...)``, redirections, ``VAR=...``) runs under bash with
``llmloop`` and ``python`` bound to this interpreter; ``llmloop serve`` starts the real server in
the background on a free port and counts as run once ``/api/v1/health`` answers. ``python``
blocks run in one namespace per page, like cells of a notebook. ``text``, ``nginx``, ``yaml``
and ``json`` blocks are shown, not run; a bare fence is refused, so every block says which it is.

A block that cannot run here (a GPU, a cloud API, a remote cluster) is preceded in the page by
``<!-- not run: REASON -->`` and a sentence the reader sees; only such blocks are skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN = {"bash", "python"}
SHOWN = {"text", "nginx", "yaml", "json"}
NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")
FENCE = re.compile(r"^```([\w-]*)\s*$")
SHELL_SYNTAX = re.compile(r"[|&;<>`$()]|^\s*\w+=")


@dataclass
class Block:
    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    not_run: str | None  # the reason given in the page, when the block is marked


def blocks(text: str, where: str) -> list[Block]:
    """The fenced blocks of a page, each with the not-run reason written just above it, if any."""
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i
        if lang not in RUN | SHOWN:
            raise ValueError(f"{where}:{start + 1}: fence ```{lang} must name one of {sorted(RUN | SHOWN)}")
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise ValueError(f"{where}:{start + 1}: unclosed fence")
        above = "\n".join(lines[max(0, start - 3) : start])
        marked = NOT_RUN.findall(above)
        out.append(
            Block(lang, "\n".join(lines[start + 1 : end]) + "\n", start + 1, marked[-1] if marked else None)
        )
        i = end + 1
    return out


def commands(code: str) -> Iterator[tuple[int, str]]:
    """(line offset, command) for each logical line of a bash block; comments and blanks dropped."""
    pending: list[str] = []
    first = 0
    for n, raw in enumerate(code.splitlines()):
        if not pending:
            first = n
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        line = " ".join([*pending, raw]).strip()
        pending = []
        if line and not line.startswith("#"):
            yield first, line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Outcome:
    exit_code: int
    output: str


@dataclass
class Session:
    """One page's run: its folder, its environment, its Python namespace and its background servers."""

    cwd: Path
    env: dict[str, str]
    namespace: dict[str, Any] = field(default_factory=dict)
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, command: str) -> Outcome:
        words = shlex.split(command, comments=True)
        plain = not SHELL_SYNTAX.search(command.split("#", 1)[0])
        if plain and words[:1] == ["llmloop"] and words[1:2] in (["serve"], ["server"]):
            return self.serve(words[1:])
        if plain and words[:1] == ["llmloop"]:
            return self.in_process(words[1:])
        return self.shell(command)

    def in_process(self, args: list[str]) -> Outcome:
        from click.testing import CliRunner

        from llmloop.cli import cli
        from llmloop.config import reset_settings

        reset_settings()
        before = os.getcwd()
        os.chdir(self.cwd)
        try:
            result = CliRunner().invoke(cli, args, prog_name="llmloop", env=self.env)
        finally:
            os.chdir(before)
            reset_settings()
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout + result.stderr)

    def shell(self, command: str) -> Outcome:
        exe = shlex.quote(sys.executable)
        prelude = f'llmloop() {{ {exe} -m llmloop "$@"; }}\npython() {{ {exe} "$@"; }}\nset -o pipefail\n'
        done = subprocess.run(
            ["bash", "-c", prelude + command],
            cwd=self.cwd,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Outcome(done.returncode, done.stdout + done.stderr)

    def serve(self, args: list[str]) -> Outcome:
        """The server in the background on a free port (the documented one may be taken); up = health answers."""
        import httpx

        if "--port" not in args:
            args = [*args, "--port", str(free_port())]
        port = args[args.index("--port") + 1]
        scheme = "https" if "--tls-cert" in args else "http"
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmloop", *args],
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.servers.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return Outcome(proc.returncode, proc.stdout.read().decode() if proc.stdout else "")
            try:
                if httpx.get(
                    f"{scheme}://127.0.0.1:{port}/api/v1/health", verify=False, timeout=1
                ).is_success:
                    return Outcome(0, "")
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return Outcome(124, "the server did not answer /api/v1/health within 60 s")

    def python(self, code: str, where: str) -> None:
        before = os.getcwd()
        os.chdir(self.cwd)
        saved = dict(os.environ)
        os.environ.update(self.env)
        from llmloop.config import reset_settings

        reset_settings()
        try:
            exec(compile(code, where, "exec"), self.namespace)
        finally:
            os.chdir(before)
            os.environ.clear()
            os.environ.update(saved)
            reset_settings()

    def close(self) -> None:
        for proc in self.servers:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stdout:
                proc.stdout.close()
