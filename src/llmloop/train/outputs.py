"""What a finished training leaves behind: the adapter (or model) as run artifacts and, when the models
registry is installed, a new model version pointing at those artifacts and at its base.

``register_model_version`` is the registry seam: the one place training writes to the models
service. Nothing is registered unless training succeeded, and registration happens after every
artifact is stored, so a failure leaves no half-registered model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmloop.context import Context
from llmloop.errors import Unavailable
from llmloop.train.model_source import ModelSource
from llmloop.train.recorder import RunRecorder

WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors")
SKIPPED_FILES = frozenset(
    {"training_args.bin"}
)  # a pickle of the Trainer's arguments: unsafe to load, in config.yaml anyway


@dataclass(frozen=True)
class StoredOutput:
    folder: Path
    prefix: str  # adapter | model
    artifacts: list[str]
    weights_sha256: str  # lineage id of the result when no registry names it


def store_output(recorder: RunRecorder, folder: Path, *, is_adapter: bool) -> StoredOutput:
    prefix = "adapter" if is_adapter else "model"
    kept = [f.name for f in folder.iterdir() if f.is_file() and f.name not in SKIPPED_FILES]
    stored = recorder.log_folder(folder, prefix, only=kept)
    weights = next((a for a in stored if a.path.rsplit("/", 1)[-1] in WEIGHT_FILES), None)
    if weights is None:
        raise Unavailable(f"training wrote no weights file into {folder}", details={"path": str(folder)})
    return StoredOutput(folder, prefix, [a.path for a in stored], weights.sha256)


def register_model_version(
    ctx: Context,
    *,
    name: str,
    project: str,
    base: ModelSource,
    output: StoredOutput,
    run_id: str,
    method: str,
) -> str | None:
    """Register the result as ``name@N`` (base reference + adapter artifacts) and return that id.

    Seam: ``llmloop.registry.service.register_trained_version(ctx, name=..., project=..., base_ref=...,
    run_id=..., artifact_prefix=..., is_adapter=..., method=...)`` → ``"name@N"``; the registry reads
    the files from the run's artifacts, so nothing is copied twice. Returns None (artifacts only)
    when no registry is installed.
    """
    try:
        from llmloop.registry import service as registry  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    register = getattr(registry, "register_trained_version", None)
    if register is None:
        return None
    version = register(
        ctx,
        name=name,
        project=project,
        base_ref=base.base_ref,
        run_id=run_id,
        artifact_prefix=output.prefix,
        is_adapter=output.prefix == "adapter",
        method=method,
    )
    return str(version)
