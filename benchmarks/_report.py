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
import threading
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
    target_min: float | None = None  # llmloop's value must be at least this (in ``unit``)

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
        if self.target_min is not None:
            return f"≥ {self.target_min:g} {self.unit}"
        return ""

    @property
    def met(self) -> bool | None:
        if self.target_ratio is not None:
            return None if self.ratio is None else self.ratio >= self.target_ratio
        if self.target_max is not None:
            return None if self.ours is None else self.ours <= self.target_max
        if self.target_min is not None:
            return None if self.ours is None else self.ours >= self.target_min
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


@dataclass
class Child:
    """What ``run_child`` saw of one process: its JSON answer and what it cost from outside."""

    out: Any  # the last stdout line, parsed as JSON (None if it failed)
    wall_s: float  # process start to exit, interpreter start and imports included
    cpu_s: float  # user + system CPU of the process and the children it waited for
    peak_mb: float | None  # largest sum of VmHWM over the process tree, sampled while it ran
    error: str | None = None  # why it failed: exit status and the end of its stderr


def run_child(
    cmd: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 1800, sample_s: float = 0.2
) -> Child:
    """Run a workload script to completion, timing it whole and sampling its tree's peak memory.

    CPU seconds come from ``RUSAGE_CHILDREN`` before and after (so they count what the process
    and any server it started and waited for used), which the load of a shared machine
    disturbs far less than wall time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak: float | None = None
    # the pipes are read by a thread inside communicate; sample memory between short waits
    streams: dict[str, str] = {}
    reader = threading.Thread(
        target=lambda: streams.update(zip(("out", "err"), proc.communicate(), strict=True))
    )
    reader.start()
    while reader.is_alive() and time.perf_counter() - t0 < timeout:
        mb = tree_peak_rss_mb(proc.pid)
        if mb is not None:
            peak = mb if peak is None else max(peak, mb)
        reader.join(sample_s)
    if reader.is_alive():
        proc.kill()
        reader.join()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out, err = streams.get("out", ""), streams.get("err", "")
    if proc.returncode != 0 or not out.strip():
        why = "timed out" if wall >= timeout else f"exit {proc.returncode}"
        return Child(None, wall, cpu, peak, f"{' '.join(cmd[:2])}: {why}\n{err.strip()[-3000:]}")
    return Child(json.loads(out.strip().splitlines()[-1]), wall, cpu, peak)


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


def load_note(start: Sequence[float]) -> str:
    """The sentence every table carries: the load average when it started and now, and what that means."""
    end = tuple(round(x, 2) for x in os.getloadavg())
    return (
        f"Load average (1, 5, 15 min) at the start {tuple(round(x, 2) for x in start)} and at the end {end}: "
        f"the machine ({os.cpu_count()} CPUs) is shared, so the ratios, not the absolute figures, are the result."
    )
