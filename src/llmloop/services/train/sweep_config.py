"""The sweep config: which training config to vary, over which keys, towards which objective.

    name: travel-lr-sweep
    train: sft.yaml                       # the training config every trial starts from
    overrides: {training.max_steps: 20}   # fixed changes for every trial
    space:
      training.learning_rate: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
      lora.r: {type: categorical, choices: [4, 8, 16]}
    objective: {metric: eval_loss, direction: minimize}
    trials: 8
    parallel: 2

Keys in ``space`` and ``overrides`` are training-config key paths, checked like the training
config's own keys (unknown → error naming the path and the closest valid key).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmloop.errors import InvalidInput
from llmloop.services.train.config import TrainConfig, check_key_path, config_error, parse_config, read_yaml


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamSpace(_Section):
    type: Literal["float", "int", "categorical"] = Field(description="How values are drawn.")
    low: float | None = Field(None, description="Smallest value (float, int).")
    high: float | None = Field(None, description="Largest value (float, int).")
    log: bool = Field(False, description="Draw on a log scale (learning rates).")
    step: float | None = Field(None, gt=0, description="Grid step (int, float without log).")
    choices: list[Any] | None = Field(None, description="The values to choose from (categorical).")

    @model_validator(mode="after")
    def _complete(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs choices")
        elif self.low is None or self.high is None or self.low >= self.high:
            raise ValueError(f"a {self.type} parameter needs low < high")
        elif self.log and self.low <= 0:
            raise ValueError("log scale needs low > 0")
        return self

    def distribution(self) -> Any:
        """The Optuna distribution (shared by local trials and Ray's OptunaSearch, so studies mix)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.type == "categorical":
            assert self.choices is not None
            return CategoricalDistribution(self.choices)
        assert self.low is not None and self.high is not None
        if self.type == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(self.low, self.high, log=self.log, step=None if self.log else self.step)


class Objective(_Section):
    metric: str = Field(
        "eval_loss", description="A metric the trial runs log (eval_loss, or an eval metric)."
    )
    direction: Literal["minimize", "maximize"] = Field("minimize", description="Which way is better.")


class PrunerSection(_Section):
    enabled: bool = Field(
        True, description="Stop trials whose objective is below the median of earlier trials."
    )
    n_startup_trials: int = Field(
        2, ge=0, description="Trials that always run to the end before pruning starts."
    )
    n_warmup_steps: int = Field(0, ge=0, description="Steps of each trial never pruned.")


class SweepConfig(_Section):
    name: str = Field(
        description="Sweep name; the study is stored under it, and running it again resumes it."
    )
    project: str | None = Field(None, description="Project (default: the training config's).")
    train: str = Field(description="The training config file (relative to this file).")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Training-config keys fixed for every trial."
    )
    space: dict[str, ParamSpace] = Field(description="Training-config keys to search, each with its range.")
    objective: Objective = Field(default_factory=Objective, description="What to optimise.")
    trials: int = Field(8, gt=0, description="Total trials (a resumed sweep runs only the missing ones).")
    parallel: int = Field(1, gt=0, description="Trials at once (local processes, or Ray trials).")
    seed: int = Field(0, description="Seed of the TPE sampler.")
    executor: Literal["local", "ray"] | None = Field(
        None, description="local or ray (default: LLMLOOP_EXECUTOR)."
    )
    pruner: PrunerSection = Field(default_factory=PrunerSection, description="Median pruning.")
    promote_best: bool = Field(False, description="Register the best trial as a model version when done.")
    start_with: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Trials to run first with exactly these values (known-good settings).",
    )

    @model_validator(mode="after")
    def _nonempty(self) -> SweepConfig:
        if not self.space:
            raise ValueError("space needs at least one key to search")
        for point in self.start_with:
            unknown = sorted(set(point) - set(self.space))
            if unknown:
                raise ValueError(f"start_with names {unknown}, which are not in space")
        return self

    def spec_hash(self) -> str:
        """What must not change for a sweep to be resumed: the space and the objective."""
        body = {
            "space": {k: v.model_dump() for k, v in self.space.items()},
            "objective": self.objective.model_dump(),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class Sweep(BaseModel):
    """A loaded sweep: its config, the base training config as a mapping, and where relative paths point."""

    model_config = ConfigDict(extra="forbid")

    config: SweepConfig
    train_raw: dict[str, Any]
    base_dir: str

    def trial_config(self, params: dict[str, Any], *, trial: str, threads: int | None = None) -> TrainConfig:
        overrides: dict[str, Any] = {**self.config.overrides, **params}
        overrides["name"] = f"{self.config.name}-t{trial}"
        overrides["register_model"] = False
        if threads is not None and "compute.threads" not in overrides:
            overrides["compute.threads"] = threads
        if self.config.project is not None:
            overrides["project"] = self.config.project
        return parse_config(
            self.train_raw,
            source=f"sweep {self.config.name} trial {trial}",
            base_dir=Path(self.base_dir),
            overrides=overrides,
        )


def load_sweep(path: str | Path) -> Sweep:
    p = Path(path)
    raw = read_yaml(p)
    try:
        cfg = SweepConfig.model_validate(raw)
    except ValidationError as e:
        raise config_error(e, SweepConfig, source=str(p)) from None
    for key in [*cfg.space, *cfg.overrides]:
        check_key_path(key, source=f"{p} (space/overrides)")
    train_path = (p.resolve().parent / cfg.train).resolve()
    train_raw = read_yaml(train_path)
    sweep = Sweep(config=cfg, train_raw=train_raw, base_dir=str(train_path.parent))
    # Fail before any trial starts: the base config with every override and the first choice of each range.
    sample = {
        k: (v.choices[0] if v.choices else v.low if v.type == "float" else int(v.low or 0))
        for k, v in cfg.space.items()
    }
    trial_cfg = sweep.trial_config(sample, trial="0")
    if (
        cfg.objective.metric.startswith("eval_")
        and trial_cfg.data.eval is None
        and trial_cfg.data.eval_fraction == 0
    ):
        raise InvalidInput(
            f"{p}: objective {cfg.objective.metric!r} needs eval data, but {cfg.train} sets neither data.eval nor data.eval_fraction",
            details={"file": str(p), "key": "objective.metric"},
        )
    return sweep
