"""Trainer callbacks: what a training reports to its llmloop run, and when it must stop.

- ``TrackingCallback`` logs loss, lr, grad norm, tokens/s and RSS every ``log_every`` steps (the
  Trainer's own logging cadence), eval loss after each evaluation, and stores each checkpoint's
  weights as run artifacts as soon as it is written.
- ``NanGuard`` + ``NanStopCallback`` stop at the first non-finite loss, before anything is saved,
  so the last checkpoint on disk is the last good one.
- ``ProgressCallback`` draws a rich progress bar with ETA on stderr (``--no-progress`` drops it).

A sweep adds ``ReportCallback`` (sweep.py) to feed the objective to its pruner.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from llmloop.services.progress_lines import PlainProgress
from llmloop.services.train.device import rss_bytes
from llmloop.services.train.recorder import RunRecorder, finite

# Trainer summary keys that are not training curves.
_SKIP = frozenset(
    {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "epoch"}
)
CHECKPOINT_FILES = (
    "adapter_model.safetensors",
    "adapter_config.json",
    "model.safetensors",
    "config.json",
    "trainer_state.json",
)


class NanGuard:
    """Holds the first non-finite training loss seen (set from ``training_step``)."""

    def __init__(self) -> None:
        self.bad_step: int | None = None
        self.value: float | None = None
        self.last_good_checkpoint: str | None = None

    @property
    def tripped(self) -> bool:
        return self.bad_step is not None

    def observe(self, loss: Any, step: int) -> None:
        if self.bad_step is not None:
            return
        value = float(loss)
        if not math.isfinite(value):
            self.bad_step, self.value = step, value


class NanStopCallback(TrainerCallback):
    """Stop training at the first NaN/inf loss without saving, evaluating or logging a poisoned state."""

    def __init__(self, guard: NanGuard, trainable: Callable[[], list[Any]]) -> None:
        self.guard = guard
        self._trainable = trainable

    def _halt(self, control: TrainerControl) -> TrainerControl:
        control.should_training_stop = True
        control.should_save = False
        control.should_evaluate = False
        return control

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if not self.guard.tripped and control.should_save and not self._weights_finite():
            self.guard.bad_step, self.guard.value = state.global_step, math.nan
        if self.guard.tripped:
            return self._halt(control)
        return control

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        return self._halt(control) if self.guard.tripped else control

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        self.guard.last_good_checkpoint = str(Path(str(args.output_dir)) / f"checkpoint-{state.global_step}")
        return control

    def _weights_finite(self) -> bool:
        """Checked only on save steps: a checkpoint must never hold NaN weights (cheap for adapters)."""
        import torch

        return all(bool(torch.isfinite(p).all()) for p in self._trainable())


class TrackingCallback(TrainerCallback):
    """Mirror the Trainer's logs into the llmloop run, plus throughput, memory and checkpoints."""

    def __init__(self, recorder: RunRecorder, *, checkpoint_artifacts: bool = True) -> None:
        self.recorder = recorder
        self.checkpoint_artifacts = checkpoint_artifacts
        self._t_last = time.perf_counter()
        self._tokens_last: float | None = None
        self.last_logs: dict[str, float] = {}

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        self._t_last = time.perf_counter()
        self._tokens_last = None
        return control

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TrainerControl:
        logs = logs or {}
        metrics = {k: float(v) for k, v in logs.items() if k not in _SKIP and isinstance(v, (int, float))}
        if "loss" in logs:
            now = time.perf_counter()
            tokens = logs.get("num_tokens", state.num_input_tokens_seen or None)
            if isinstance(tokens, (int, float)) and finite(tokens):
                if self._tokens_last is not None and now > self._t_last:
                    metrics["tokens_per_s"] = (float(tokens) - self._tokens_last) / (now - self._t_last)
                self._tokens_last = float(tokens)
            self._t_last = now
            metrics["rss_mb"] = rss_bytes() / 2**20
        if "epoch" in logs and finite(logs["epoch"]):
            metrics["epoch"] = float(logs["epoch"])
        self.last_logs.update(metrics)
        self.recorder.log_metrics(metrics, step=state.global_step)
        return control

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        folder = Path(str(args.output_dir)) / f"checkpoint-{state.global_step}"
        tags = {"last_checkpoint": str(folder), "last_checkpoint_step": str(state.global_step)}
        self.recorder.set_tags(tags)
        if self.checkpoint_artifacts and folder.is_dir():
            self.recorder.log_folder(
                folder, f"checkpoints/checkpoint-{state.global_step}", only=CHECKPOINT_FILES
            )
        return control


class ProgressCallback(TrainerCallback):
    """A rich progress bar with loss and ETA on stderr; starts where a resumed run left off.

    Where stderr is not a terminal (CI, a pipe) the bar would show nothing until the end, so it
    prints a plain line every tenth of the steps instead."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._progress: Any = None
        self._task: Any = None
        self._lines: PlainProgress | None = None
        self._first_step = 0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if not sys.stderr.isatty():
            self._lines = PlainProgress(f"training {self.description}", stream=sys.stderr)
            self._first_step = state.global_step
            return control
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.description, total=state.max_steps, completed=state.global_step, loss="-"
        )
        return control

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)
        elif self._lines is not None:  # a resumed run's ETA counts only the steps run here
            self._lines(state.global_step - self._first_step, state.max_steps - self._first_step)
        return control

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TrainerControl:
        if self._progress is not None and logs and finite(logs.get("loss")):
            self._progress.update(self._task, loss=f"{float(logs['loss']):.4f}")
        return control

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        self.close()
        return control

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class ReportCallback(TrainerCallback):
    """Feed each new value of a sweep's objective to its pruner; stop the trial when told to."""

    def __init__(self, metric: str, report: Callable[[float, int], bool]) -> None:
        self.metric = metric
        self.report = report
        self.pruned = False

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TrainerControl:
        value = (logs or {}).get(self.metric)
        if finite(value) and not self.pruned and self.report(float(value), state.global_step):
            self.pruned = True
            control.should_training_stop = True
        return control
