"""``llmloop quickstart``: the loop on the embedded store, offline, in one command.

Each step is a small function over the SDK, so what the quickstart shows is exactly
what a user's own script would do. Steps are added as the loop grows (data, prompts,
fine-tuning, evaluation, gates, registry, serving); today it runs a real, tiny,
tracked hyper-parameter sweep and compares its runs.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import time
from pathlib import Path

import click

import llmloop as ll
from llmloop.cli._output import print_table
from llmloop.config import get_settings

PROJECT = "quickstart"


def _toy_data(seed: int, n: int = 400) -> list[tuple[float, float, int]]:
    """Two noisy clusters: a problem a logistic regression can learn in a few hundred steps."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.random() < 0.5
        cx, cy = (1.0, 1.0) if label else (-1.0, -1.0)
        rows.append((rng.gauss(cx, 0.9), rng.gauss(cy, 0.9), int(label)))
    return rows


def _train(
    run: ll.ActiveRun, data: list[tuple[float, float, int]], lr: float, steps: int
) -> dict[str, float]:
    w = [0.0, 0.0, 0.0]
    for step in range(steps):
        grad = [0.0, 0.0, 0.0]
        loss = 0.0
        for x, y, label in data:
            z = w[0] * x + w[1] * y + w[2]
            p = 1 / (1 + math.exp(-z))
            loss -= math.log(p if label else 1 - p)
            for i, v in enumerate((x, y, 1.0)):
                grad[i] += (p - label) * v
        w = [wi - lr * gi / len(data) for wi, gi in zip(w, grad, strict=True)]
        run.log_metric("loss", loss / len(data), step=step)
    acc = sum((w[0] * x + w[1] * y + w[2] > 0) == bool(label) for x, y, label in data) / len(data)
    run.log_metric("accuracy", acc, step=steps)
    return {"w0": w[0], "w1": w[1], "b": w[2]}


@click.command()
@click.option("--seed", default=0, show_default=True, help="Seed for the data and the sweep.")
def quickstart(seed: int) -> None:
    """Run the quickstart loop on the embedded store and print where everything went."""
    from rich.progress import Progress

    t0 = time.time()
    data = _toy_data(seed)
    learning_rates = [0.03, 0.1, 0.3, 1.0]
    with (
        ll.start_run(project=PROJECT, name=f"sweep-seed{seed}", kind="sweep", params={"seed": seed}) as sweep,
        Progress() as bar,
    ):
        task = bar.add_task("sweep", total=len(learning_rates))
        for lr in learning_rates:
            with ll.start_run(parent=sweep, name=f"lr={lr}", params={"lr": lr, "steps": 60}) as trial:
                weights = _train(trial, data, lr, steps=60)
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "weights.json"
                    path.write_text(json.dumps(weights))
                    trial.log_artifact(path)
            bar.advance(task)
    trials = ll.search_runs(
        project=PROJECT, filter="kind = 'run'", order_by=["metrics.loss ASC"], limit=len(learning_rates)
    )
    trials = [t for t in trials if t.parent_id == sweep.id]
    print_table(
        ["trial", "lr", "final loss", "accuracy"],
        [[t.name, t.params["lr"], t.metrics["loss"], t.metrics["accuracy"]] for t in trials],
        title="quickstart sweep (best first)",
    )
    settings = get_settings()
    click.echo(f"best trial: {trials[0].name} (run {trials[0].id})")
    click.echo(f"store: {settings.resolved_database_url}  artifacts: {settings.resolved_artifacts_url}")
    click.echo(
        f"look closer: llmloop runs list --project {PROJECT}; llmloop runs compare {' '.join(t.id[:32] for t in trials[:2])}"
    )
    click.echo(f"done in {time.time() - t0:.1f}s")
