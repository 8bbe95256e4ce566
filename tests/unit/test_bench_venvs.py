"""``benchmarks/_venvs.py``: how a peer's pins are read and matched, and that a peer which cannot be
installed comes back as a reason (for the table's notes), not an exception that drops the column."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _venvs  # benchmarks/_venvs.py, from the path above


def test_pins_are_read_without_extras() -> None:
    assert _venvs._wanted(["litellm[proxy]==1.108.7", "uvloop", "zenml[local]==0.98.0"]) == {
        "litellm": "1.108.7",
        "uvloop": None,
        "zenml": "0.98.0",
    }


@pytest.mark.parametrize(
    ("have", "want", "ok"),
    [
        ("2.13.0+cpu", "2.13.0", True),  # a pin without a local label matches any local build
        ("2.13.0", "2.13.0", True),
        ("2.13.0+cu121", "2.13.0+cpu", False),  # a pin with one must match it exactly
        ("2.13.1", "2.13.0", False),
        ("1.0", None, True),  # a bare name: present is enough
        (None, None, False),
        (None, "1.0", False),
    ],
)
def test_an_installed_version_against_a_pin(have: str | None, want: str | None, ok: bool) -> None:
    assert _venvs._matches(have, want) is ok


def test_a_peer_that_cannot_be_installed_comes_back_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(venv: Path, requirements: list[str]) -> Path:
        raise _venvs.PeerUnavailable("installing nope==1 failed (exit 1): No matching distribution found")

    monkeypatch.setattr(_venvs, "ensure", refuse)
    python, why = _venvs.try_peer("nope", ["nope==1"])
    assert python is None
    assert why is not None and "No matching distribution" in why
