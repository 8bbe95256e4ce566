"""One PNG per sweep for people and the UI: parallel coordinates of the trials and parameter importances.

Drawn with matplotlib's Agg backend (no display needed). Importances are Optuna's fANOVA over the
completed trials, shown when at least two completed trials differ in some parameter.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def plot_study(study: Any, path: Path, *, metric: str) -> bool:
    """Write the plot; False (and no file) when no trial has a value yet."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    trials = [
        t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
    ]
    trials = [t for t in trials if _value(t) is not None]
    if not trials:
        return False
    keys = sorted({k for t in trials for k in t.params})
    importances = _importances(study, keys)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    values = [_value(t) or 0.0 for t in trials]
    lo, hi = min(values), max(values)
    cmap = plt.get_cmap("viridis_r" if study.direction.name == "MINIMIZE" else "viridis")
    axes = [*keys, metric]
    for t, v in zip(trials, values, strict=True):
        ys = [_position(t.params.get(k), [tt.params.get(k) for tt in trials]) for k in keys]
        ys.append(0.5 if hi == lo else (v - lo) / (hi - lo))
        style = "-" if t.state == TrialState.COMPLETE else ":"
        left.plot(
            range(len(axes)), ys, style, color=cmap(0.5 if hi == lo else (v - lo) / (hi - lo)), alpha=0.8
        )
    left.set_xticks(range(len(axes)), axes, rotation=20, ha="right", fontsize=8)
    left.set_yticks([])
    left.set_title(f"{len(trials)} trials (dotted: pruned; colour: {metric} {lo:.4g}..{hi:.4g})", fontsize=9)
    if importances:
        names = list(importances)
        right.barh(names, [importances[n] for n in names], color="#4c72b0")
        right.set_title("parameter importance (fANOVA)", fontsize=9)
        right.tick_params(labelsize=8)
    else:
        right.text(0.5, 0.5, "importance needs two completed\ntrials that differ", ha="center", va="center")
        right.set_axis_off()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _value(t: Any) -> float | None:
    if t.values:
        return float(t.values[0])
    if t.intermediate_values:
        return float(t.intermediate_values[max(t.intermediate_values)])
    return None


def _position(value: Any, column: list[Any]) -> float:
    """Where a value sits on its axis: numbers by (log-)scale, categories by their sorted order."""
    present = [c for c in column if c is not None]
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and all(isinstance(c, (int, float)) for c in present)
    ):
        nums = [float(c) for c in present]
        use_log = min(nums) > 0 and max(nums) / min(nums) > 100
        f = math.log10 if use_log else float
        lo, hi = f(min(nums)), f(max(nums))
        return 0.5 if hi == lo else (f(float(value)) - lo) / (hi - lo)
    cats = sorted({str(c) for c in present})
    return 0.5 if len(cats) < 2 else cats.index(str(value)) / (len(cats) - 1)


def _importances(study: Any, keys: list[str]) -> dict[str, float]:
    from optuna.importance import get_param_importances
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(complete) < 2 or not any(len({str(t.params.get(k)) for t in complete}) > 1 for k in keys):
        return {}
    try:
        return {k: float(v) for k, v in get_param_importances(study).items()}
    except (RuntimeError, ValueError):  # e.g. every completed trial has the same value
        return {}
