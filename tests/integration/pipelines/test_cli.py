"""``llmloop pipeline graph|status|runs`` and their --json twins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.pipelines.helpers import basic, folder


def test_graph_draws_a_tree_and_an_svg(tmp_path: Path, cli: Any) -> None:
    work = folder(tmp_path)
    path = work.pipeline(basic())
    svg = tmp_path / "graph.svg"
    out = cli("pipeline", "graph", str(path), "-o", str(svg))
    assert out.exit_code == 0, out.stderr
    m = work.module
    assert out.stdout.splitlines() == [
        "pipeline basic",
        "├── data (ingest)",
        f"│   └── count ({m}:count_rows)",
        f"│       └── twice ({m}:double)",
        f"└── other ({m}:constant)",
    ]
    text = svg.read_text()
    assert text.startswith("<svg") and text.count('class="step"') == 4 and text.count("<line") == 2
    graph = json.loads(cli("pipeline", "graph", str(path), "--json").stdout)
    assert [(s["name"], s["depth"], s["after"]) for s in graph["steps"]] == [
        ("data", 0, []), ("count", 1, ["data"]), ("twice", 2, ["count"]), ("other", 0, []),
    ]  # fmt: skip


def test_status_shows_each_step_and_matches_the_client(tmp_path: Path, cli: Any) -> None:
    import llmloop as ll

    work = folder(tmp_path)
    run = json.loads(
        cli("pipeline", "run", str(work.pipeline(basic())), "--executor", "inline", "--json").stdout
    )
    status = cli("pipeline", "status", run["id"], "--json")
    assert json.loads(status.stdout) == ll.get_client().pipelines.get_run(run["id"]).model_dump(mode="json")
    table = cli("pipeline", "status", run["id"]).stdout
    assert "twice" in table and "rows: 12" in table and "finished" in table
    again = cli("pipeline", "run", str(work.pipeline(basic())), "--executor", "inline", "--explain")
    assert again.exit_code == 0
    assert "twice: hit: same code, config and input content as run" in again.stderr
    runs = json.loads(cli("pipeline", "runs", "--json").stdout)["items"]
    assert [r["status"] for r in runs] == ["finished", "finished"]
    drawn = cli("pipeline", "graph", runs[0]["id"]).stdout
    assert "twice" in drawn and "[cached]" in drawn
    missing = cli("pipeline", "status", "0" * 32)
    assert missing.exit_code == 2 and missing.stderr == f"error: pipeline run {'0' * 32!r} not found\n"
