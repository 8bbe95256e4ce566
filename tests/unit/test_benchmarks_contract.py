"""Every ``benchmarks/bench_*.py`` keeps the one contract ``make bench`` relies on.

``benchmarks/run.py`` calls ``main([])`` on each module; a ``main`` that reads that list as
something else (a row count, say) crashes ``make bench`` only after the earlier benchmarks
have run for many minutes. So each module is imported here and its ``main`` is held to the
signature ``main(argv: list[str] | None = None)`` and made to parse the list it is given:
``--help`` exits 0 and an unknown flag exits 2 before any measuring starts, whatever
``sys.argv`` holds. A new benchmark is picked up by the same discovery ``run.py`` uses.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run  # noqa: E402  (benchmarks/run.py, from the path above)

NAMES = run.discover()


def bench_main(name: str) -> Callable[..., Any]:
    main: Callable[..., Any] = importlib.import_module(f"bench_{name}").main
    return main


def test_discovery_finds_the_benchmarks() -> None:
    assert len(NAMES) == len(list(BENCHMARKS.glob("bench_*.py"))) > 0


@pytest.mark.parametrize("name", NAMES)
def test_main_takes_argv_only(name: str) -> None:
    params = list(inspect.signature(bench_main(name)).parameters.values())
    assert [(p.name, p.kind, p.default) for p in params] == [
        ("argv", inspect.Parameter.POSITIONAL_OR_KEYWORD, None)
    ], (
        f"bench_{name}.main must be main(argv: list[str] | None = None), not {inspect.signature(bench_main(name))}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_main_parses_the_list_it_is_given(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [f"bench_{name}.py", "--flag-from-the-command-line"])
    with pytest.raises(SystemExit) as help_exit:
        bench_main(name)(["--help"])
    assert help_exit.value.code == 0
    assert "usage:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad_exit:
        bench_main(name)(["--no-such-flag"])
    assert bad_exit.value.code == 2
    assert "--no-such-flag" in capsys.readouterr().err


def test_run_passes_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    module = importlib.import_module(f"bench_{NAMES[0]}")
    monkeypatch.setattr(module, "main", lambda argv=None: seen.append(argv) or 0)
    assert run.run_one(NAMES[0]) == 0
    assert seen == [[]]
