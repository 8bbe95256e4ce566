"""Step functions for docs/examples/pipeline.yaml: plain functions, found beside the pipeline file.

A function step gets its inputs and config as keyword arguments (a dataset input arrives as its
pinned reference, ``reviews@2``) and returns a dict of its declared outputs.
"""

from __future__ import annotations

import llmloop as ll


def count_rows(data: str) -> dict[str, int]:
    return {"rows": ll.datasets.get(data).rows}


def report(rows: int, title: str) -> dict[str, str]:
    return {"text": f"{title}: {rows}"}
