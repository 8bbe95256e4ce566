"""Turn a user's JSONL benchmark into a suite: validate every line, pick fields and metrics, write YAML.

    llmloop eval import-jsonl qa.jsonl --name my-qa --input-field question --reference-field answer

Each line is a JSON object. The input is a chat ``messages`` list, or one field used as the user
message (``--input-field``), or a ``--template`` over several fields. References (one string or a
list) come from ``--reference-field`` (default: reference, answer, completion, output, target).
The suite refers to the file by a path relative to itself, so both can move together.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from llmloop.errors import Conflict, InvalidInput
from llmloop.services.evaluate.metrics.registry import metric_class_info
from llmloop.services.evaluate.seams import bare_messages, fill_template, read_jsonl, row_from_record
from llmloop.services.evaluate.suite import FieldMap, Suite, parse_suite

DEFAULT_REFERENCE_METRICS = ("exact_match", "token_f1", "rougeL")


def suite_from_jsonl(
    path: str | Path,
    *,
    name: str,
    out: str | Path,
    input_field: str | None = None,
    reference_field: str | None = None,
    id_field: str = "id",
    template: str | None = None,
    system: str | None = None,
    metrics: list[str] | None = None,
    force: bool = False,
) -> tuple[Suite, dict[str, Any]]:
    """Validate ``path`` and write a suite for it to ``out``; returns the suite and a summary."""
    src = Path(path).resolve()
    dest = Path(out).resolve()
    if dest.exists() and not force:
        raise Conflict(f"{dest} exists; pass --force to overwrite", details={"file": str(dest)})
    if input_field is not None and template is not None:
        raise InvalidInput("give --input-field or --template, not both")
    if input_field is not None:
        template = "{" + input_field + "}"
    fields = FieldMap(id=id_field, reference=reference_field)
    records = read_jsonl(src)
    rows = [row_from_record(r, fields, where=f"{src}:{i + 1}") for i, r in enumerate(records)]
    with_refs = sum(r.reference is not None for r in rows)
    chosen = metrics or (list(DEFAULT_REFERENCE_METRICS) if with_refs == len(rows) else [])
    if not chosen:
        raise InvalidInput(
            f"{src}: {len(rows) - with_refs} of {len(rows)} rows have no reference; name metrics that need none "
            "(e.g. --metric json_valid) or set --reference-field",
            details={"file": str(src)},
        )
    for m in chosen:
        info = metric_class_info(m)
        if info.requires_references and with_refs < len(rows):
            missing = next(r.id for r in rows if r.reference is None)
            raise InvalidInput(
                f"metric {m!r} needs a reference on every row; row {missing} has none",
                details={"file": str(src), "metric": m},
            )
    prompt: dict[str, Any] | None = None
    if template is not None:
        prompt = {"template": template, **({"system": system} if system else {})}
        for i, r in enumerate(rows):
            fill_template(template, r.variables, where=f"{src}:{i + 1}")
    else:
        for r in rows:
            bare_messages(r)  # every row must be usable without a prompt
    dataset: dict[str, Any] = {"path": os.path.relpath(src, dest.parent)}
    field_map = {
        k: v
        for k, v in {"id": id_field if id_field != "id" else None, "reference": reference_field}.items()
        if v
    }
    if field_map:
        dataset["fields"] = field_map
    doc: dict[str, Any] = {"name": name, "description": f"Imported from {src.name}", "dataset": dataset}
    if prompt is not None:
        doc["prompt"] = prompt
    doc["metrics"] = chosen
    doc["generation"] = {"batch_size": 8, "max_new_tokens": 128, "temperature": 0.0}
    suite = parse_suite(doc, source=str(dest), base_dir=dest.parent)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, dest)
    summary = {
        "rows": len(rows),
        "with_reference": with_refs,
        "metrics": chosen,
        "suite": str(dest),
        "dataset": str(src),
    }
    return suite, summary
