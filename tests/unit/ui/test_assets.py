"""What the UI ships: exactly the reviewed files (hash manifest), nothing from outside, small enough."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from llmloop.server.ui.assets import STATIC, asset_files, build_manifest, manifest
from llmloop.server.ui.render import TEMPLATES

URL = re.compile(r"https?://[^\s\"'<>)]+")
# URLs allowed where a file names its own origin in a comment or licence, never as something to load
ALLOWED = {
    ("vendor/uPlot.iife.min.js", "https://github.com/leeoniya/uPlot"),  # the banner comment /*! … */
}
LICENCES = {"vendor/htmx.LICENSE.txt", "vendor/uPlot.LICENSE.txt"}


def test_the_manifest_pins_every_static_file() -> None:
    assert build_manifest() == manifest(), "static files changed: python -m llmloop.server.ui.assets"


def test_no_template_or_static_file_loads_anything_from_another_origin() -> None:
    found = []
    for path in [*asset_files(), *TEMPLATES.glob("*.html")]:
        name = path.relative_to(STATIC).as_posix() if path.is_relative_to(STATIC) else path.name
        if name in LICENCES:
            continue
        for url in URL.findall(path.read_text(errors="replace")):
            if (name, url) not in ALLOWED:
                found.append(f"{name}: {url}")
    assert found == []
    banner = (STATIC / "vendor/uPlot.iife.min.js").read_text().splitlines()[0]
    assert banner.startswith("/*!") and banner.endswith("*/"), "uPlot's URL is only in its banner comment"


def test_static_assets_stay_under_150_kb_gzipped() -> None:
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in asset_files() if p.name not in {"LICENSE"})
    assert total <= 150_000, total


def test_the_wheel_declares_the_templates_and_static_files() -> None:
    text = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    for pattern in ("server/ui/templates/*.html", "server/ui/static/*.js", "server/ui/static/vendor/*"):
        assert f'"{pattern}"' in text
