"""``llmloop train --resume RUN_ID``: continue a crashed or killed training from its last checkpoint.

A run that ended is immutable, so resuming starts a *new* run tagged ``resumed_from`` (with a
lineage edge ``old --resumed_as--> new``) that trains into the same checkpoint folder. The Trainer
restores weights, optimizer, scheduler and RNG states from the checkpoint and skips the batches
already seen, so with the same seed the data order and the total number of steps are those of an
uninterrupted run. The config is the resolved one stored with the checkpoints, never re-read from
a file that may have changed since.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from llmloop.context import Context
from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.services.tracking import service as tracking
from llmloop.services.train.config import TrainConfig, parse_config, read_yaml
from llmloop.services.train.schemas import TrainResult
from llmloop.services.train.service import ResumePoint, TrainOptions, train

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def latest_checkpoint(folder: Path) -> tuple[Path, int] | None:
    """The newest complete checkpoint: ``trainer_state.json`` is written last, so it marks completion."""
    found: list[tuple[int, Path]] = []
    if not folder.is_dir():
        return None
    for child in folder.iterdir():
        m = CHECKPOINT_RE.match(child.name)
        if not m or not child.is_dir():
            continue
        try:
            state = json.loads((child / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # killed while writing: not a checkpoint
        if isinstance(state, dict) and state.get("global_step") == int(m.group(1)):
            found.append((int(m.group(1)), child))
    if not found:
        return None
    step, path = max(found)
    return path, step


def resume_point(ctx: Context, *, run_id: str) -> tuple[TrainConfig, ResumePoint, int]:
    """The stored config and the checkpoint a run continues from; errors say why it cannot."""
    run = tracking.get_run(ctx, run_id=run_id)
    if run.kind != "train":
        raise InvalidInput(f"run {run_id} is a {run.kind!r} run, not a training", details={"run_id": run_id})
    if run.status == "running":
        raise Conflict(
            f"run {run_id} is still running (pid alive or heartbeat recent); stop it before resuming",
            details={"run_id": run_id},
        )
    if run.status == "finished":
        raise Conflict(f"run {run_id} finished; there is nothing to resume", details={"run_id": run_id})
    folder_text = run.tags.get("checkpoint_dir")
    if not folder_text:
        raise NotFound(f"run {run_id} recorded no checkpoint folder", details={"run_id": run_id})
    folder = Path(folder_text)
    found = latest_checkpoint(folder)
    if found is None:
        raise NotFound(
            f"run {run_id} saved no checkpoint before it stopped (training.save_steps sets the cadence); "
            "start it again with: llmloop train CONFIG",
            details={"run_id": run_id, "checkpoint_dir": str(folder)},
        )
    checkpoint, step = found
    config_file = folder / "config.yaml"
    if config_file.is_file():
        cfg = parse_config(read_yaml(config_file), source=str(config_file))
    else:  # the folder moved or was cleaned: the run's own copy is in the artifact store
        art = tracking.artifact_of(ctx, run_id=run_id, name="config.yaml")
        import yaml

        cfg = parse_config(
            yaml.safe_load(ctx.artifacts.read_bytes(art.sha256)), source=f"run {run_id} config.yaml"
        )
    return cfg, ResumePoint(run_id=run_id, checkpoint_dir=folder, checkpoint=checkpoint), step


def resume_training(ctx: Context, *, run_id: str, options: TrainOptions | None = None) -> TrainResult:
    cfg, point, _step = resume_point(ctx, run_id=run_id)
    opts = options or TrainOptions()
    opts.resume = point
    return train(ctx, config=cfg, options=opts)
