"""Peers' own virtual environments: created once, pinned, and checked before every run.

A peer (MLflow, Prefect, ZenML, ...) never enters llmloop's environment: each gets a venv the
benchmark makes on first use and reuses after, with exact versions, so that ``make bench``
needs nothing from the user and two runs compare the same peer. A venv whose installed
versions no longer match the pins is topped up in place. A peer that cannot be installed
raises ``PeerUnavailable`` carrying pip's own error, for the benchmark to print as the reason
instead of silently dropping the column.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"  # one folder per peer; ignored by git
MARKER = "llmloop-bench-requirements.txt"


class PeerUnavailable(RuntimeError):
    """A peer's venv could not be created or its packages installed (the message says why)."""


def _wanted(requirements: Sequence[str]) -> dict[str, str | None]:
    """``["mlflow==3.1", "uvloop"]`` -> ``{"mlflow": "3.1", "uvloop": None}`` (None: any version)."""
    out: dict[str, str | None] = {}
    for req in requirements:
        name, _, version = req.partition("==")
        out[name.split("[")[0].strip()] = version.strip() or None
    return out


def _matches(have: str | None, want: str | None) -> bool:
    """An installed version against a pin: ``2.13.0+cpu`` is ``torch==2.13.0`` (pip's own rule for a local label)."""
    if have is None or want is None:
        return have is not None
    return have == want if "+" in want else have.split("+")[0] == want


def installed(python: Path, names: Sequence[str]) -> dict[str, str | None]:
    """The versions of ``names`` installed for ``python`` (None where missing)."""
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try:\n"
        "        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))\n"
    )
    proc = subprocess.run([str(python), "-c", probe, *names], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return dict.fromkeys(names)
    got: dict[str, str | None] = json.loads(proc.stdout)
    return got


def _run(cmd: Sequence[str], what: str) -> None:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-3000:]
        raise PeerUnavailable(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def ensure(venv: Path, requirements: Sequence[str]) -> Path:
    """The interpreter of ``venv`` with ``requirements`` installed, creating or topping it up first.

    ``requirements`` are pip specs; ``name==version`` is checked exactly, a bare name only for
    presence, and the list itself against the one recorded at the last install (so adding an
    extra or a package reinstalls). Returns at once when everything matches (the usual case after the first run).
    """
    py = venv / "bin" / "python"
    want = _wanted(requirements)
    marker = (
        venv / MARKER
    )  # the exact specs last installed: extras (``zenml[local]``) are not in the metadata
    if py.exists():
        have = installed(py, list(want))
        same = marker.exists() and marker.read_text().split() == sorted(requirements)
        if same and all(_matches(have[n], v) for n, v in want.items()):
            return py
        print(f"installing {' '.join(requirements)} into {venv}", file=sys.stderr, flush=True)
    else:
        print(f"creating {venv} with {' '.join(requirements)} (once)", file=sys.stderr, flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", str(venv)], f"creating the venv {venv}")
        _run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], f"upgrading pip in {venv}")
    _run([str(py), "-m", "pip", "install", "-q", *requirements], f"installing {' '.join(requirements)}")
    marker.write_text("\n".join(sorted(requirements)) + "\n")
    return py


def peer(name: str, requirements: Sequence[str]) -> Path:
    """``ensure`` for the peer ``name`` in ``benchmarks/.peers/<name>``."""
    return ensure(PEERS / name, requirements)


def try_peer(name: str, requirements: Sequence[str]) -> tuple[Path | None, str | None]:
    """``peer``, or ``(None, why)`` when it cannot be installed: the benchmark prints the reason
    in its table's notes and leaves the peer's column n/a, instead of failing or dropping it."""
    try:
        return peer(name, requirements), None
    except PeerUnavailable as exc:
        return None, str(exc)


def version(python: Path, package: str) -> str:
    """The installed version of ``package`` for ``python`` ("?" when it is not installed)."""
    return installed(python, [package]).get(package) or "?"
