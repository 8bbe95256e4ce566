"""What a finished training leaves behind: the adapter (or model) as run artifacts and, when the models
registry is installed, a new model version pointing at those artifacts and at its base.

``register_model_version`` is the registry seam: the one place training writes to the models
registry. Nothing is registered unless training succeeded, and registration happens after every
artifact is stored, so a failure leaves no half-registered model.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import Unavailable
from llmloop.services.train.adapters import clean_copy, stack_adapters
from llmloop.services.train.model_source import ModelSource
from llmloop.services.train.recorder import RunRecorder

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


@dataclass(frozen=True)
class RegisteredVersion:
    ref: str  # NAME@VERSION
    id: str  # the registry's id: the lineage entity ("model_version", id)


def register_model_version(
    ctx: Context,
    *,
    name: str,
    project: str,
    base: ModelSource,
    output: StoredOutput,
    run_id: str,
    method: str,
    inputs: list[tuple[str, str]],
    metadata: dict[str, Any],
) -> RegisteredVersion:
    """SEAM (models, issue 5): register the result as ``name@N``.

    ``register_model_version(ctx, spec=ModelVersionCreate(...))`` with the base as a registered
    reference (``base_model``) or a path (``base``), the adapter folder (the registry packs and
    checks it against the base), ``run_id`` (the registry records ``run --produced--> version``)
    and the dataset versions as ``inputs`` (``trained_on``). When training ran on top of another
    adapter (DPO after SFT), the two are stacked into one exact adapter first, because a version
    holds one adapter over one base. A full fine-tune registers its folder as the base itself.
    """
    from llmloop.services.registry import schemas
    from llmloop.services.registry import service as registry

    fields: dict[str, Any] = {}
    if output.prefix == "adapter":
        folder = output.folder.parent / "registered-adapter"
        shutil.rmtree(folder, ignore_errors=True)
        if base.adapter_path is not None:
            stack_adapters(base.adapter_path, output.folder, folder)
        else:
            clean_copy(output.folder, folder)
        fields["adapter_dir"] = str(folder)
        if base.base_ref.startswith("path:"):
            fields["base"] = base.base_ref.removeprefix("path:")
        else:
            fields["base_model"] = base.base_ref
    else:
        fields["base"] = str(output.folder)
    spec = schemas.ModelVersionCreate(
        project=project,
        name=name,
        run_id=run_id,
        source="run",
        description=f"{method} from {base.ref} (run {run_id})",
        inputs=[schemas.EntityRef(type="dataset_version", id=i, relation=r) for r, i in inputs],
        metadata=metadata,
        **fields,
    )
    version = registry.register_model_version(ctx, spec=spec)
    return RegisteredVersion(str(version.ref), str(version.id))
