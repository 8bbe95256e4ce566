"""Training: LoRA/full SFT, DPO, distillation and hyper-parameter sweeps, as tracked, resumable runs.

    config.py      the YAML config (every key documented; errors name the key path)
    data.py        dataset resolution and shaping (seam to the datasets service)
    model_source.py  base model resolution and loading (seam to the models registry)
    plan.py        parameters, steps, tokens/step, memory and time before training
    service.py     train(): the tracked run around TRL's SFTTrainer / DPOTrainer
    sft.py dpo.py distill.py teacher.py callbacks.py resume.py outputs.py
    sweep*.py study_store.py  Optuna (local processes) and Ray Tune sweeps

This package is also the SDK verb ``ll.train(config)``: importing any ``llmloop.train.*`` module
sets the attribute ``llmloop.train`` to this package, shadowing the lazily loaded SDK function of
the same name, so the package is made callable and calling it calls that function. The SDK is
looked up by name at call time, keeping the service layer free of interface imports.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("llmloop.sdk.train").train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
