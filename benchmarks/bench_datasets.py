"""Benchmark: ingest + hash + profile of a 1,000,000-row chat JSONL (~500 MB), against the issue's targets
and against ``dvc add`` of the same file, side by side in one run.

    python benchmarks/bench_datasets.py [--rows N] [--keep DIR] [--no-dvc]
    python benchmarks/run.py --only datasets

Targets (issue 4): >= 50 MB/s on one core, peak RSS <= 1 GB, re-adding identical content <= 20 % of the
first add. Each measured step runs in a child process, so its peak RSS is its own (``ru_maxrss`` of that
child) and CPU time is user + system of that child. DVC (pinned, ``DVC`` below) gets its own venv,
``benchmarks/.peers/dvc``, created on first use (``_venvs.peer``), never the project's environment;
``dvc add`` of the same file (hard-linked into a fresh ``dvc init --no-scm`` repository), first and
again, is timed the same way. When DVC cannot be installed or run the table says why.

``main()`` returns the ``_report`` shape; ``run.py`` (or this file run directly) writes
``benchmarks/results/datasets.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _report
import _venvs
from _report import Row

ROOT = Path(__file__).resolve().parents[1]
DVC = ["dvc==3.67.1"]  # exact, so two runs compare the same DVC
TARGET_MBPS = 50.0
TARGET_RSS_MB = 1024.0
TARGET_READD = 0.20

WORDS = [
    "the",
    "a",
    "to",
    "in",
    "for",
    "with",
    "on",
    "at",
    "from",
    "by",
    "beach",
    "mountain",
    "city",
    "museum",
    "food",
    "wine",
    "hiking",
    "budget",
    "luxury",
    "family",
    "week",
    "weekend",
    "summer",
    "winter",
    "spring",
    "autumn",
    "trip",
    "flight",
    "train",
    "guide",
    "tour",
    "river",
    "lake",
    "island",
    "coast",
    "village",
    "market",
    "festival",
    "hotel",
    "hostel",
    "quiet",
    "lively",
    "warm",
    "cold",
    "sunny",
    "rainy",
    "snow",
    "ski",
    "surf",
    "dive",
    "walk",
    "cycle",
    "history",
    "art",
    "culture",
    "nightlife",
    "romantic",
    "cheap",
    "expensive",
    "local",
    "view",
    "sunset",
    "castle",
    "cathedral",
    "old",
    "town",
    "harbour",
]
DESTINATIONS = [
    "Lisbon",
    "Porto",
    "Seville",
    "Kyoto",
    "Reykjavik",
    "Bansko",
    "Menorca",
    "Vienna",
    "Dolomites",
    "Crete",
    "Tromso",
    "Marrakesh",
]


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Deterministic chat rows: a system prompt, a traveller's question, an answer; ~1% carry PII, ~1% repeat."""
    rng = random.Random(seed)
    previous: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            if previous and rng.random() < 0.01:
                out.write(rng.choice(previous))
                continue
            q = " ".join(rng.choices(WORDS, k=rng.randint(14, 28)))
            a = " ".join(rng.choices(WORDS, k=rng.randint(18, 38)))
            dest = rng.choice(DESTINATIONS)
            if rng.random() < 0.01:
                q += f" Reach me at traveller{i}@example.com or +44 20 7946 {i % 10000:04d}."
            row = {
                "messages": [
                    {
                        "role": "system",
                        "content": "You are a travel assistant. Recommend one destination with reasons.",
                    },
                    {"role": "user", "content": f"{q.capitalize()}? Trip {i}."},
                    {"role": "assistant", "content": f"Go to {dest}: {a}."},
                ]
            }
            line = json.dumps(row, ensure_ascii=False) + "\n"
            out.write(line)
            if len(previous) < 1000:
                previous.append(line)


CHILD = r"""
import json, os, sys, time, resource
from llmloop.config import reset_settings
reset_settings()
from llmloop.context import local_context
from llmloop.services.data import service
from llmloop.services.data.schemas import DatasetAdd
ctx = local_context()
t0, c0 = time.perf_counter(), time.process_time()
r = service.add_version(ctx, spec=DatasetAdd(name="bench", path=sys.argv[1]))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "created": r.created, "ref": r.version.ref, "rows": r.version.rows,
                  "data_mb": r.version.data_size / 1e6, "pii": r.version.pii_total,
                  "exact_dups": r.version.profile.duplicates.exact_rows,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


# Runs argv[1:] and reports it whole (interpreter start to exit): a fresh wrapper process, so
# RUSAGE_CHILDREN is that command's alone. The same for llmloop's child and for ``dvc add``.
PROBE = (
    "import json, resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t0\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': p.returncode, 'wall_s': wall, 'cpu_s': u.ru_utime + u.ru_stime,\n"
    "                  'rss_mb': u.ru_maxrss / 1024, 'out': p.stdout[-3000:], 'err': p.stderr[-3000:]}))\n"
)


def whole(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    """``cmd`` run to completion through ``PROBE``: its exit status, wall and CPU seconds, peak RSS, output."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the timing wrapper failed:\n{proc.stderr[-3000:]}")
    got: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return got


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """llmloop's add in a child: its own figures (the call alone) and, under ``process``, the whole process."""
    outside = whole([sys.executable, "-c", code, *args], env)
    if outside["rc"] != 0:
        raise RuntimeError(f"benchmark step failed:\n{outside['err']}")
    result: dict[str, Any] = json.loads(outside.pop("out").strip().splitlines()[-1])
    result["process"] = {k: v for k, v in outside.items() if k != "err"}
    return result


def time_dvc(dvc: Path, data: Path, work: Path) -> dict[str, Any]:
    """``dvc add`` of ``data``, first and again, in a fresh repository; ``available`` False and ``reason`` if it failed."""
    repo = work / "dvc-repo"
    repo.mkdir()
    target = repo / data.name
    os.link(data, target)  # same file, no copy
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LLMLOOP_"))}
    env.update(DVC_NO_ANALYTICS="1")
    init = subprocess.run(
        [str(dvc), "init", "--no-scm", "-q"], cwd=repo, env=env, capture_output=True, text=True
    )
    if init.returncode != 0:
        return {"available": False, "reason": f"dvc init failed: {(init.stderr or init.stdout)[-500:]}"}
    out: dict[str, Any] = {"available": True}
    for step in ("first", "again"):
        got = whole([str(dvc), "add", "-q", data.name], env, repo)
        if got["rc"] != 0:
            return {"available": False, "reason": f"dvc add failed: {got['err'][-500:]}"}
        for key in ("wall_s", "cpu_s", "rss_mb"):
            out[f"{step}_{key}"] = float(got[key])
    out["version"] = _venvs.version(dvc.parent / "python", "dvc")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv`` (``None``: the command line), measure and return the result in the ``_report`` shape."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="Work under this folder and keep the files.")
    parser.add_argument("--no-dvc", action="store_true", help="only llmloop (the DVC column says n/a)")
    args = parser.parse_args(argv)
    return measure(args.rows, args.keep, dvc=not args.no_dvc)


def measure(rows: int, keep: Path | None, dvc: bool = True) -> dict[str, Any]:
    if dvc:
        python, why = _venvs.try_peer("dvc", DVC)  # installs first, so no timing waits on pip
    else:
        python, why = None, "DVC was not run (--no-dvc)."
    work = Path(tempfile.mkdtemp(prefix="bench-datasets-", dir=keep))
    try:
        data = work / "chat.jsonl"
        t0 = time.perf_counter()
        generate(data, rows)
        size_mb = data.stat().st_size / 1e6
        gen_s = time.perf_counter() - t0
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
        env.update(LLMLOOP_HOME=str(work / "home"), PYTHONPATH=str(ROOT / "src"))
        load0 = os.getloadavg()
        first = run_child(CHILD, [str(data)], env)
        again = run_child(CHILD, [str(data)], env)
        d: dict[str, Any] = {"available": False, "reason": why}
        if python is not None:
            d = time_dvc(python.parent / "dvc", data, work)
        return result(rows, size_mb, gen_s, first, again, d, load0)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def result(
    rows: int,
    size_mb: float,
    gen_s: float,
    first: dict[str, Any],
    again: dict[str, Any],
    dvc: dict[str, Any],
    load0: tuple[float, float, float],
) -> dict[str, Any]:
    """The ``_report`` shape: llmloop against ``dvc add`` of the same file, row by row."""
    ok = bool(dvc.get("available"))

    def peer(key: str) -> float | None:
        return float(dvc[key]) if ok else None

    def share(a: float | None, b: float | None) -> float | None:
        return 100.0 * a / b if a is not None and b else None

    label = f"DVC {dvc['version']}" if ok else "DVC (not measured)"
    ours, ours_again = first["process"], again["process"]
    table = [
        Row("first add, whole process (start to exit), wall", "s", ours["wall_s"], peer("first_wall_s"),
            higher_is_better=False),
        Row("first add, whole process, CPU", "s", ours["cpu_s"], peer("first_cpu_s"), higher_is_better=False),
        Row("throughput on one core, whole process (file size / CPU)", "MB/s", size_mb / ours["cpu_s"],
            size_mb / dvc["first_cpu_s"] if ok else None),
        Row("first add, whole process, peak RSS", "MB", ours["rss_mb"], peer("first_rss_mb"),
            higher_is_better=False, target_max=TARGET_RSS_MB),
        Row("re-add of identical content, whole process, wall", "s", ours_again["wall_s"], peer("again_wall_s"),
            higher_is_better=False),
        Row("re-add as a share of the first add, whole process (wall)", "%",
            share(ours_again["wall_s"], ours["wall_s"]), share(peer("again_wall_s"), peer("first_wall_s")),
            higher_is_better=False),
        Row("llmloop's add call alone (no interpreter start or imports), CPU", "s", first["cpu_s"],
            higher_is_better=False),
        Row("throughput on one core, the add call alone (file size / its CPU)", "MB/s", size_mb / first["cpu_s"],
            target_min=TARGET_MBPS),
        Row("throughput, the add call alone (file size / its wall time)", "MB/s", size_mb / first["wall_s"]),
        Row("re-add as a share of the first add, the add call alone (wall)", "%",
            share(again["wall_s"], first["wall_s"]), higher_is_better=False, target_max=100 * TARGET_READD),
    ]  # fmt: skip
    notes = [
        f"{rows:,} chat rows, {size_mb:.1f} MB of JSONL (generated in {gen_s:.1f} s, not counted); each add in a "
        "process of its own, timed whole (interpreter start to exit: wall, user + system CPU and ru_maxrss of "
        "that process alone, from a wrapper's RUSAGE_CHILDREN), the same way for llmloop and for `dvc add`. "
        "The issue's targets are judged on llmloop's add call alone, timed inside its process.",
        f"llmloop: `datasets.add_version` (read, hash, profile: PII scan, duplicates; store as Parquet: "
        f"{first['data_mb']:.1f} MB, {first['pii']} PII findings, {first['exact_dups']} exact duplicate rows); "
        f"the re-add found the same content (created={again['created']}).",
        "DVC: `dvc add` of the same file hard-linked into a fresh `dvc init --no-scm` repository (DVC hashes it "
        "and copies it into its cache), then `dvc add` again (the unchanged "
        "file). DVC does less work per add than llmloop: it neither parses nor profiles the rows.",
    ]
    if not ok:
        notes.append(f"DVC was not measured, so its column is n/a: {dvc.get('reason')}")
    notes.append(_report.load_note(load0))
    return {
        "title": f"Datasets: ingest + hash + profile of {rows:,} chat rows, llmloop vs {label} (`dvc add`)",
        "ours": "llmloop",
        "peer": label,
        "rows": table,
        "notes": notes,
        "raw": {
            "rows": rows,
            "file_mb": size_mb,
            "generate_s": gen_s,
            "first_add": first,
            "readd": again,
            "dvc": dvc,
            "load_start": load0,
        },
    }


if __name__ == "__main__":  # run.py writes results/datasets.{json,md}; standalone, write them here
    t0 = time.perf_counter()
    out = main()
    out["duration_s"] = time.perf_counter() - t0
    out["machine"] = _report.machine()
    _, md = _report.write("datasets", out)
    print(md.read_text())
