"""Rewrite ``operation_counts.json`` from this checkout: ``python -m tests.integration.perf.regen``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.integration.perf.counting import BASELINE, PATHS, measure


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="llmloop-counts-") as tmp:
        counts = {path: {str(n): c for n, c in measure(path, Path(tmp)).items()} for path in sorted(PATHS)}
    BASELINE.write_text(json.dumps(counts, indent=2) + "\n")
    for path, sizes in counts.items():
        print(path, sizes)


if __name__ == "__main__":
    main()
