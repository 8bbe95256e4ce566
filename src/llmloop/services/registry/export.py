"""A registered version written out as one self-contained model: merged HF folder or GGUF file.

The adapter is merged into its base (``llmloop.engines.compress``) so the result serves without
PEFT, on any engine that reads the format (a GGUF runs on llama.cpp, the fast CPU path).
Optionally the export is registered as a new version whose lineage says what it was exported from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from llmloop.context import Context
from llmloop.engines import compress
from llmloop.services.registry.loading import model_spec
from llmloop.services.registry.schemas import EntityRef, ModelVersion, ModelVersionCreate
from llmloop.services.registry.service import get_model_version, register_model_version

ExportFormat = Literal["hf", "gguf"]


@dataclass(frozen=True)
class Exported:
    source: str  # NAME@VERSION exported
    path: Path
    format: ExportFormat
    registered: ModelVersion | None


def export_version(
    ctx: Context,
    *,
    ref: str,
    out: Path,
    format: ExportFormat = "hf",
    dtype: str = "f16",
    project: str | None = None,
    register_as: str | None = None,
) -> Exported:
    """Write ``ref`` merged to ``out`` (which must not exist); ``register_as`` records it as a new version."""
    version = get_model_version(ctx, ref=ref, project=project or ctx.settings.default_project)
    spec = model_spec(ctx, version)
    path = (
        compress.export_merged(spec, out) if format == "hf" else compress.export_gguf(spec, out, dtype=dtype)
    )
    registered = None
    if register_as is not None:
        registered = register_model_version(
            ctx,
            spec=ModelVersionCreate(
                project=version.project,
                name=register_as,
                base=str(path),
                source="export",
                description=f"{version.ref} merged and exported as {format}"
                + (f" ({dtype})" if format == "gguf" else ""),
                inputs=[EntityRef(type="model_version", id=str(version.id), relation="exported_from")],
                metadata={"exported_from": version.ref, "format": format},
            ),
        )
    return Exported(version.ref, path, format, registered)
