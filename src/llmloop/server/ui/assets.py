"""The UI's static files: served from the installed package, each pinned by its sha256 in ``MANIFEST.json``.

The vendored libraries (htmx, uPlot) and our own CSS/JS are checked in; nothing is fetched at
install or run time. The manifest lets a test prove that what ships is what was reviewed, and
gives each URL a content hash (``?v=``) so a browser may cache an asset until it changes.
Regenerate after editing a file: ``python -m llmloop.server.ui.assets``.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
MANIFEST = STATIC / "MANIFEST.json"
PREFIX = "/ui/static"


def asset_files() -> list[Path]:
    """Every file served under ``PREFIX``, the manifest itself excluded."""
    return sorted(p for p in STATIC.rglob("*") if p.is_file() and p != MANIFEST)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_manifest() -> dict[str, str]:
    return {p.relative_to(STATIC).as_posix(): digest(p) for p in asset_files()}


@cache
def manifest() -> dict[str, str]:
    loaded: dict[str, str] = json.loads(MANIFEST.read_text())
    return loaded


def asset_url(name: str) -> str:
    """The URL of static file ``name``; a name missing from the manifest is a bug (KeyError)."""
    return f"{PREFIX}/{name}?v={manifest()[name][:12]}"


if __name__ == "__main__":
    MANIFEST.write_text(json.dumps(build_manifest(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {MANIFEST}")
