"""A pipeline folder for tests: rows, step functions beside the YAML, and counters of real executions."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Step functions the tests' pipelines name (module ``steps`` beside the YAML). Each appends a line
# to calls.log, so a test can tell a step that ran from one served from the cache.
STEPS = '''
import json, os, time
from pathlib import Path

import llmloop as ll

HERE = Path(__file__).parent


def _called(name):
    with open(HERE / "calls.log", "a") as fh:
        fh.write(name + "\\n")


def count_rows(data, label="rows"):
    _called("count_rows")
    return {"rows": ll.datasets.get(data).rows, "label": label}


def double(rows, label):
    _called("double")
    return {"value": f"{label}: {rows * 2}"}


def constant(value):
    _called("constant")
    return {"value": value}


def where(project, tag=""):
    """Says which project it was given: the pipeline's, unless its config names one."""
    _called("where")
    return {"value": f"{tag}{project}"}


def flaky(fails):
    """Fails ``fails`` times (counted in flaky.count), then succeeds."""
    _called("flaky")
    f = HERE / "flaky.count"
    n = int(f.read_text()) if f.exists() else 0
    f.write_text(str(n + 1))
    if n < fails:
        raise RuntimeError(f"flaky failure {n + 1}")
    return {"value": n + 1}


def slow_register(data):
    """The first time: say so, then hang until killed. Afterwards: register a dataset and return it."""
    _called("slow_register")
    marker = HERE / "slow.started"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)
    rows = HERE / "derived.jsonl"
    rows.write_text(json.dumps({"text": "derived from " + data}) + "\\n")
    got = ll.datasets.add("derived", str(rows))
    return {"dataset": got.ref}
'''


def rows(n: int, *, tweak: str = "") -> list[dict[str, str]]:
    return [
        {"prompt": f"Where in spring {i}?", "completion": f"Kyoto {i}{tweak if i == 0 else ''}"}
        for i in range(n)
    ]


def write_rows(path: Path, items: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return path


@dataclass
class Work:
    """A pipeline folder; ``module`` is unique per test, as a step module stays imported in-process."""

    dir: Path
    module: str

    def pipeline(self, defn: dict[str, Any], name: str = "pipeline.yaml") -> Path:
        """Write ``defn`` as YAML, its ``steps:fn`` kinds pointing at this folder's module."""
        steps = [
            {**s, "kind": s["kind"].replace("steps:", f"{self.module}:", 1)} for s in defn.get("steps", [])
        ]
        path = self.dir / name
        path.write_text(yaml.safe_dump({**defn, "steps": steps}, sort_keys=False), encoding="utf-8")
        return path

    def calls(self) -> list[str]:
        log = self.dir / "calls.log"
        return log.read_text().split() if log.exists() else []

    def reset_calls(self) -> None:
        (self.dir / "calls.log").unlink(missing_ok=True)


def folder(tmp_path: Path) -> Work:
    work = tmp_path / "pipe"
    work.mkdir()
    module = f"steps_{uuid.uuid4().hex[:8]}"
    (work / f"{module}.py").write_text(STEPS, encoding="utf-8")
    write_rows(work / "rows.jsonl", rows(6))
    return Work(work, module)


def basic(dataset: str = "rows", label: str = "rows") -> dict[str, Any]:
    """ingest -> count_rows -> double (which also takes count's label), and an independent constant."""
    return {
        "name": "basic",
        "steps": [
            {"name": "data", "kind": "ingest", "config": {"name": dataset, "path": "rows.jsonl"}},
            {
                "name": "count",
                "kind": "steps:count_rows",
                "inputs": {"data": "steps.data.dataset"},
                "config": {"label": label},
                "outputs": {"rows": "value", "label": "value"},
            },
            {
                "name": "twice",
                "kind": "steps:double",
                "inputs": {"rows": "steps.count.rows", "label": "steps.count.label"},
            },
            {"name": "other", "kind": "steps:constant", "inputs": {"value": 7}},
        ],
    }
