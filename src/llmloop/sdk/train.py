"""``ll.train`` / ``ll.sweep``: fine-tune from a YAML file, a mapping or a TrainConfig.

    import llmloop as ll
    result = ll.train("examples/travel/sft.yaml", overrides={"training.max_steps": 20})
    result.run_id, result.eval_loss, result.model_version

Training runs in this process against the local store (it needs the weights here); with
``LLMLOOP_SERVER_URL`` set it still trains locally: point LLMLOOP_DATABASE_URL / ARTIFACTS_URL at
the server's store to record it there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmloop.context import local_context
from llmloop.services.train.config import TrainConfig, load_config, parse_config
from llmloop.services.train.schemas import Plan, TrainResult
from llmloop.services.train.sweep import SweepResult
from llmloop.services.train.teacher import Teacher

ConfigLike = str | Path | Mapping[str, Any] | TrainConfig


def load(config: ConfigLike, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """A validated TrainConfig from a path, a mapping or a TrainConfig (``overrides``: key path → value)."""
    if isinstance(config, (str, Path)):
        return load_config(config, overrides=overrides)
    return parse_config(config, source="config", overrides=overrides)


def train(
    config: ConfigLike,
    *,
    overrides: Mapping[str, Any] | None = None,
    teacher: Teacher | None = None,
    callbacks: Sequence[Any] = (),
    progress: bool = False,
) -> TrainResult:
    """Train as a tracked run; returns the run id, losses, the stored adapter and the model version."""
    from llmloop.services.train.service import TrainOptions
    from llmloop.services.train.service import train as run_training

    cfg = load(config, overrides)
    options = TrainOptions(teacher=teacher, callbacks=callbacks, show_progress=progress)
    return run_training(local_context(), config=cfg, options=options)


def plan(config: ConfigLike, *, overrides: Mapping[str, Any] | None = None) -> Plan:
    """Validate and estimate (parameters, steps, tokens/step, memory, time) without training."""
    from llmloop.services.train.service import plan_training

    return plan_training(local_context(), config=load(config, overrides))


def resume(run_id: str, *, progress: bool = False) -> TrainResult:
    """Continue a crashed or killed training from its last checkpoint, as a new run."""
    from llmloop.services.train.resume import resume_training
    from llmloop.services.train.service import TrainOptions

    return resume_training(local_context(), run_id=run_id, options=TrainOptions(show_progress=progress))


def sweep(config: str | Path, *, executor: str | None = None, promote: bool | None = None) -> SweepResult:
    """Run (or resume) a hyper-parameter sweep; trials are child runs of one parent run."""
    from llmloop.services.train.sweep import run_sweep
    from llmloop.services.train.sweep_config import load_sweep

    return run_sweep(local_context(), sweep=load_sweep(config), executor=executor, promote=promote)
