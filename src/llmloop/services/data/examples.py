"""A registered dataset version as a prompt's few-shot example set (``few_shot.examples_from``).

The set's key is the version's content hash, so the prompts layer's embedding cache is reused
for as long as the rows are the same and rebuilt the moment a new version is pinned. Examples
are read whole into memory to be ranked, hence the cap.
"""

from __future__ import annotations

from llmloop.context import Context
from llmloop.errors import InvalidInput
from llmloop.services.data import versions
from llmloop.services.data.schemas import DatasetVersion
from llmloop.services.prompts.fewshot import ExampleSet, ExampleSource

MAX_EXAMPLE_ROWS = 20_000


def check_example_rows(ref: str, version: DatasetVersion) -> None:
    """Refuse a version too big to hold in memory as an example set (before any row is read)."""
    if version.rows > MAX_EXAMPLE_ROWS:
        raise InvalidInput(
            f"few-shot examples_from={ref!r}: {version.ref} has {version.rows} rows; an example set "
            f"holds at most {MAX_EXAMPLE_ROWS} (derive a smaller version with `llmloop data split`)",
            details={"examples_from": ref, "rows": version.rows},
        )


def example_source(ctx: Context, *, project: str) -> ExampleSource:
    """Resolve ``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS`` in ``project``, with ``ctx``'s permissions."""

    def resolve(ref: str) -> ExampleSet:
        version = versions.get_version(ctx, ref=ref, project=project)
        check_example_rows(ref, version)
        rows = versions.read_table(ctx, version).to_pylist()
        return ExampleSet(key=version.content_hash, rows=rows)

    return resolve
