"""What every benchmark shares: timing, peak memory, and the JSON + Markdown files in ``results/``.

A benchmark's ``main()`` returns ``{"title", "ours", "peer", "rows": [Row, ...], "notes": [...],
"raw": {...}}``; ``run.py`` adds the machine and writes ``results/<name>.json`` and
``results/<name>.md`` through ``write``. Each row compares llmloop with its peer on one
measure; ``ratio`` is always "how many times better llmloop is" (above 1: llmloop wins),
whichever way the unit points.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    metric: str
    unit: str
    ours: float | None
    peer: float | None = None
    higher_is_better: bool = True
    target_ratio: float | None = None  # llmloop must be at least this many times better than the peer
    target_max: float | None = None  # llmloop's value must be at most this (in ``unit``)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.ours or not self.peer:
            return None
        return self.ours / self.peer if self.higher_is_better else self.peer / self.ours

    @property
    def target(self) -> str:
        if self.target_ratio is not None:
            return f"≥ {self.target_ratio:g}x {'peer' if self.higher_is_better else 'faster'}"
        if self.target_max is not None:
            return f"≤ {self.target_max:g} {self.unit}"
        return ""

    @property
    def met(self) -> bool | None:
        if self.target_ratio is not None:
            return None if self.ratio is None else self.ratio >= self.target_ratio
        if self.target_max is not None:
            return None if self.ours is None else self.ours <= self.target_max
        return None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "target": self.target, "met": self.met}


def seconds(fn: Callable[[], object], *, repeat: int = 1, warmup: int = 0) -> list[float]:
    """Wall seconds of each of ``repeat`` calls of ``fn``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def wall_of(cmd: Sequence[str], *, env: dict[str, str] | None = None, repeat: int = 3) -> list[float]:
    """Wall seconds of running ``cmd`` to completion, ``repeat`` times (interpreter start included)."""

    def once() -> None:
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return seconds(once, repeat=repeat)


def peak_rss_mb() -> float:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tree_peak_rss_mb(pid: int) -> float | None:
    """Sum of the peak resident memory (VmHWM) of ``pid`` and its descendants, read before they exit."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for p in procs:
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in {"ms", "s"} or abs(value) < 100:
        return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,.0f}"


def markdown(name: str, result: dict[str, Any]) -> str:
    ours, peer = result.get("ours", "llmloop"), result.get("peer", "peer")
    lines = [
        f"# {result.get('title', name)}",
        "",
        f"| measure | unit | {ours} | {peer} | {ours} vs {peer} | target | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in result["rows"]:
        ratio = f"{row['ratio']:,.1f}x" if row["ratio"] is not None else ""
        met = {True: "yes", False: "**NO**", None: ""}[row["met"]]
        lines.append(
            f"| {row['metric']} | {row['unit']} | {_fmt(row['ours'], row['unit'])} | "
            f"{_fmt(row['peer'], row['unit'])} | {ratio} | {row['target']} | {met} |"
        )
    lines += ["", f"{ours} vs {peer}: how many times better llmloop is (higher rate, or lower time/memory)."]
    if result.get("notes"):
        lines += ["", *[f"- {n}" for n in result["notes"]]]
    m = result.get("machine", {})
    if m:
        lines += [
            "",
            f"Machine: {m.get('cpus')} CPUs, load average {m.get('load_avg_1_5_15')} at the end, "
            f"Python {m.get('python')}, {m.get('platform')}. Took {result.get('duration_s', 0):.0f} s.",
        ]
    return "\n".join(lines) + "\n"


def write(name: str, result: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``results/<name>.json`` and ``results/<name>.md``; rows may be ``Row`` or dicts."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {**result, "rows": [r.to_dict() if isinstance(r, Row) else r for r in result["rows"]]}
    js, md = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    js.write_text(json.dumps({"name": name, **result}, indent=2, default=str) + "\n")
    md.write_text(markdown(name, result))
    return js, md
