"""Benchmark: ingest + hash + profile of a 1,000,000-row chat JSONL (~500 MB), against the issue's targets.

    python benchmarks/bench_datasets.py [--rows N] [--keep DIR]

Targets (issue 4): >= 50 MB/s on one core, peak RSS <= 1 GB, re-adding identical content <= 20 % of the
first add. Each measured step runs in a child process, so its peak RSS is its own (``ru_maxrss`` of that
child) and CPU time is user + system of that child. ``dvc add`` on the same file is timed in the same run
when ``.bench-venv/bin/dvc`` exists (DVC is installed there only, never in the project environment).

Writes ``benchmarks/results/datasets.json`` and ``datasets.md``; ``main()`` returns the result dict so a
harness can call it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DVC = ROOT / ".bench-venv" / "bin" / "dvc"
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


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def time_dvc(data: Path, work: Path) -> dict[str, Any]:
    if not DVC.exists():
        return {
            "available": False,
            "reason": f"{DVC} not found (install: python -m venv .bench-venv && .bench-venv/bin/pip install dvc)",
        }
    repo = work / "dvc-repo"
    repo.mkdir()
    target = repo / data.name
    os.link(data, target)  # same file, no copy
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([str(DVC), "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
    out: dict[str, Any] = {"available": True}
    for step in ("first", "again"):
        # timed in a fresh wrapper process, so RUSAGE_CHILDREN is dvc's alone
        probe = (
            "import resource, subprocess, sys, time\n"
            "t0 = time.perf_counter()\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "wall = time.perf_counter() - t0\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(p.returncode, wall, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024)\n"
            "sys.stderr.write(p.stderr[-500:])\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", probe, str(DVC), "add", "-q", data.name],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        rc, wall, cpu, rss = proc.stdout.split()
        if rc != "0":
            return {"available": False, "reason": f"dvc add failed: {proc.stderr[-500:]}"}
        out[f"{step}_wall_s"] = round(float(wall), 2)
        out[f"{step}_cpu_s"] = round(float(cpu), 2)
        out[f"{step}_rss_mb"] = round(float(rss), 1)
    version = subprocess.run([str(DVC), "--version"], capture_output=True, text=True, env=env)
    out["version"] = version.stdout.strip()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv`` (``None``: the command line), measure, write the results and return them."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="Work under this folder and keep the files.")
    args = parser.parse_args(argv)
    return measure(args.rows, args.keep)


def measure(rows: int, keep: Path | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-datasets-", dir=keep))
    try:
        data = work / "chat.jsonl"
        t0 = time.perf_counter()
        generate(data, rows)
        size_mb = data.stat().st_size / 1e6
        gen_s = time.perf_counter() - t0
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
        env.update(LLMLOOP_HOME=str(work / "home"), PYTHONPATH=str(ROOT / "src"))
        load_before = os.getloadavg()
        first = run_child(CHILD, [str(data)], env)
        again = run_child(CHILD, [str(data)], env)
        load_after = os.getloadavg()
        dvc = time_dvc(data, work)
        result: dict[str, Any] = {
            "rows": rows,
            "file_mb": round(size_mb, 1),
            "generate_s": round(gen_s, 1),
            "first_add": {k: round(v, 2) if isinstance(v, float) else v for k, v in first.items()},
            "readd": {k: round(v, 2) if isinstance(v, float) else v for k, v in again.items()},
            "mb_per_s_wall": round(size_mb / first["wall_s"], 1),
            "mb_per_s_cpu": round(size_mb / first["cpu_s"], 1),
            "readd_ratio": round(again["wall_s"] / first["wall_s"], 3),
            "dvc": dvc,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "loadavg_before": [round(x, 1) for x in load_before],
                "loadavg_after": [round(x, 1) for x in load_after],
            },
            "targets": {"mb_per_s": TARGET_MBPS, "peak_rss_mb": TARGET_RSS_MB, "readd_ratio": TARGET_READD},
        }
        result["meets"] = {
            "throughput_cpu": result["mb_per_s_cpu"] >= TARGET_MBPS,
            "throughput_wall": result["mb_per_s_wall"] >= TARGET_MBPS,
            "peak_rss": first["rss_mb"] <= TARGET_RSS_MB,
            "readd": result["readd_ratio"] <= TARGET_READD,
        }
        write_results(result)
        return result
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def write_results(r: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "datasets.json").write_text(json.dumps(r, indent=2) + "\n")
    f, a, d = r["first_add"], r["readd"], r["dvc"]
    dvc_line = (
        f"| `dvc add` ({d.get('version', '?')}) | {d['first_wall_s']} s wall, {d['first_cpu_s']} s CPU, "
        f"{d['first_rss_mb']} MB peak; again {d['again_wall_s']} s |"
        if d.get("available")
        else f"| `dvc add` | not measured: {d.get('reason')} |"
    )
    lines = [
        "# Datasets benchmark",
        "",
        f"{r['rows']:,} chat rows, {r['file_mb']} MB JSONL; machine: {r['machine']['cpus']} CPUs, "
        f"load average {r['machine']['loadavg_before'][0]} before / {r['machine']['loadavg_after'][0]} after.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| ingest + hash + profile + store (first add) | {f['wall_s']} s wall, {f['cpu_s']} s CPU | |",
        f"| throughput | {r['mb_per_s_wall']} MB/s wall, {r['mb_per_s_cpu']} MB/s CPU | >= {r['targets']['mb_per_s']} MB/s |",
        f"| peak RSS (first add) | {f['rss_mb']} MB | <= {r['targets']['peak_rss_mb']:.0f} MB |",
        f"| re-add identical file | {a['wall_s']} s ({r['readd_ratio']:.1%} of first add), created={a['created']} | <= 20 % |",
        f"| stored Parquet | {f['data_mb']} MB; PII findings {f['pii']}; exact duplicate rows {f['exact_dups']} | |",
        dvc_line,
        "",
    ]
    (RESULTS / "datasets.md").write_text("\n".join(lines))


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
