"""Resume after a real SIGKILL: the training continues at its last checkpoint and ends at the same total steps,
with the same losses an uninterrupted run has (the data order comes from the seed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmloop as ll
from llmloop.context import local_context
from llmloop.errors import Conflict, NotFound
from llmloop.services.tracking import service as tracking
from llmloop.services.train.resume import latest_checkpoint, resume_training
from llmloop.store.lineage import edges_of

TOTAL = 24


def _kill_after_first_checkpoint(proc: subprocess.Popen[bytes], home: Path, timeout: float = 240) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for state in home.glob("checkpoints/*/checkpoint-*/trainer_state.json"):
            if latest_checkpoint(state.parent.parent) is not None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return state.parent.parent
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"training exited ({proc.returncode}) before it could be killed: {out[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no checkpoint appeared in time")


@pytest.mark.slow
def test_resume_after_sigkill_continues_to_the_same_steps_and_losses(
    tiny_config: Callable[..., dict[str, Any]], tmp_path: Path, isolated_home: Path
) -> None:
    raw = tiny_config(
        data={"eval": None}, training={"max_steps": TOTAL, "save_steps": 3, "save_total_limit": 2}
    )
    cfg_file = tmp_path / "sft.yaml"
    cfg_file.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(p) for p in env.get("PYTHONPATH", "src").split(os.pathsep)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmloop", "train", str(cfg_file), "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    folder = _kill_after_first_checkpoint(proc, isolated_home)
    assert proc.returncode == -signal.SIGKILL

    ctx = local_context()
    (killed,) = ll.search_runs()
    assert killed.status == "killed"  # its process is gone: the store says so on the next read
    found = latest_checkpoint(folder)
    assert found is not None
    _, step = found
    assert 3 <= step < TOTAL

    resumed = resume_training(ctx, run_id=killed.id)
    assert resumed.status == "finished" and resumed.resumed_from == killed.id
    assert resumed.steps == resumed.total_steps == TOTAL and resumed.checkpoint_dir == str(folder)
    steps = [p.step for p in tracking.metric_history(ctx, run_id=resumed.run_id, key="loss")]
    assert steps[0] == step + 1 and steps[-1] == TOTAL  # continued at N+1, not from 1

    with ctx.db.session() as s:
        assert any(
            e.relation == "resumed_as" and e.dst_id == resumed.run_id for e in edges_of(s, "run", killed.id)
        )
    new_run = tracking.get_run(ctx, run_id=resumed.run_id)
    assert new_run.tags["resumed_from"] == killed.id and "adapter/adapter_model.safetensors" in {
        a.path for a in new_run.artifacts
    }

    # the same config uninterrupted: identical losses after the checkpoint (same data order, same state)
    reference = ll.train(raw)
    ref = {p.step: p.value for p in tracking.metric_history(ctx, run_id=reference.run_id, key="loss")}
    got = {p.step: p.value for p in tracking.metric_history(ctx, run_id=resumed.run_id, key="loss")}
    for s_ in range(step + 1, TOTAL + 1):
        assert got[s_] == pytest.approx(ref[s_], rel=1e-4, abs=1e-5), s_

    with pytest.raises(Conflict, match="finished; there is nothing to resume"):
        resume_training(ctx, run_id=resumed.run_id)


def test_resume_refuses_unknown_runs_and_runs_without_checkpoints(
    tiny_config: Callable[..., dict[str, Any]],
) -> None:
    from transformers import TrainerCallback

    class Diverge(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            next(p for p in model.parameters() if p.requires_grad).data.fill_(float("nan"))

    ctx = local_context()
    with pytest.raises(NotFound, match="run 'nope' not found"):
        resume_training(ctx, run_id="nope")
    with pytest.raises(ll.InvalidInput, match="loss became nan at step 2"):
        ll.train(tiny_config(training={"max_steps": 3}), callbacks=[Diverge()])
    (failed,) = ll.search_runs()
    assert failed.status == "failed"
    with pytest.raises(NotFound, match="saved no checkpoint before it stopped"):
        resume_training(ctx, run_id=failed.id)
