"""``ll.train`` / ``ll.sweep``: fine-tune from a YAML file, a mapping or a TrainConfig.

    import llmloop as ll
    result = ll.train("examples/travel/sft.yaml", overrides={"training.max_steps": 20})
    result.run_id, result.eval_loss, result.model_version

Training runs in this process (it needs the weights here) through ``get_client().train``: against
the configured store with a local client; with ``LLMLOOP_SERVER_URL`` set it is refused with what
to do instead, rather than recorded in a local store the server never sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmloop.client import get_client
from llmloop.services.train.config import TrainConfig, load_config, parse_config
from llmloop.services.train.schemas import Plan, TrainResult
from llmloop.services.train.sweep import SweepResult
from llmloop.services.train.sweep_config import load_sweep
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
    cfg = load(config, overrides)
    return get_client().train.train(cfg, teacher=teacher, callbacks=callbacks, progress=progress)


def plan(config: ConfigLike, *, overrides: Mapping[str, Any] | None = None) -> Plan:
    """Validate and estimate (parameters, steps, tokens/step, memory, time) without training."""
    return get_client().train.plan(load(config, overrides))


def resume(run_id: str, *, progress: bool = False) -> TrainResult:
    """Continue a crashed or killed training from its last checkpoint, as a new run."""
    return get_client().train.resume(run_id, progress=progress)


def sweep(config: str | Path, *, executor: str | None = None, promote: bool | None = None) -> SweepResult:
    """Run (or resume) a hyper-parameter sweep; trials are child runs of one parent run."""
    return get_client().train.sweep(load_sweep(config), executor=executor, promote=promote)
