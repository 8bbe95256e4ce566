"""``make bench``: run every ``benchmarks/bench_<name>.py`` (or those named by ``--only``).

Each module exposes ``main(argv: list[str] | None = None)``, which parses its own flags from
``argv`` (``None``: the command line, so ``python benchmarks/bench_<name>.py --flag`` works too);
tests/unit/test_benchmarks_contract.py holds every module to that. When it returns the ``_report`` shape (a dict with ``rows``),
this writes ``benchmarks/results/<name>.json`` and ``<name>.md`` and prints the table; a
module that writes its own results (returning anything else; an int is its exit status) is
run as is and its ``<name>.md`` printed. A benchmark runs with its defaults: ``main([])``. One failing benchmark does not stop the others; the exit status
says whether all ran, and with ``--check`` also whether every target was met.

    python benchmarks/run.py                 # all
    python benchmarks/run.py --only tracking # one (repeatable)
    python benchmarks/run.py --list
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _report  # noqa: E402  (needs the path above)


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def run_one(name: str) -> object:
    """Run ``bench_<name>.main([])``: its defaults, whatever flags ``run.py`` itself was given."""
    main = importlib.import_module(f"bench_{name}").main
    t0 = time.perf_counter()
    result = main([])
    if isinstance(result, dict) and "rows" in result:
        result["duration_s"] = time.perf_counter() - t0
        result["machine"] = _report.machine()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        print(f"error: no benchmark named {', '.join(unknown)}; have: {', '.join(names)}", file=sys.stderr)
        return 2
    failed, missed = [], []
    for name in args.only or names:
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            result = run_one(name)
        except (Exception, SystemExit):
            traceback.print_exc()
            failed.append(name)
            continue
        if not (isinstance(result, dict) and "rows" in result):  # wrote its own results
            if isinstance(result, int) and result != 0:
                failed.append(name)
            own = _report.RESULTS / f"{name}.md"
            if own.exists():
                print(own.read_text())
            continue
        js, md = _report.write(name, result)
        print(md.read_text())
        print(f"wrote {js} and {md}", file=sys.stderr)
        rows = [r.to_dict() if isinstance(r, _report.Row) else r for r in result["rows"]]
        missed += [f"{name}: {r['metric']}" for r in rows if r["met"] is False]
    if failed:
        print(f"error: benchmarks failed: {', '.join(failed)}", file=sys.stderr)
    if missed:
        print("targets missed:\n  " + "\n  ".join(missed), file=sys.stderr)
    return 1 if failed or (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
