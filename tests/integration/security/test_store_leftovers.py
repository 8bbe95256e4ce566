"""What crashes leave in the artifact store is found by ``store verify`` and removed by ``--repair``.

A real upload is killed with ``-9`` halfway: its temp file stays, verify names it, repair removes
it (its writer is dead). Blobs no row refers to are reported, and repair deletes them only past
the grace period (an upload links its blob after writing it); a referenced blob is never touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.security.integrity import GRACE_S
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunCreate

_SLOW_UPLOAD = """
import sys, time
from llmloop.store.artifacts import ArtifactStore

class Endless:
    def read(self, n):
        time.sleep(0.05)
        return b"x" * 1024

ArtifactStore(sys.argv[1]).put_stream(Endless())
"""


def _verify(cli: Any, *flags: str) -> dict[str, Any]:
    res = cli("store", "verify", *flags, "--json")
    assert res.exit_code == 0, res.stderr
    report: dict[str, Any] = json.loads(res.stdout)
    return report


def _backdate(path: Path) -> None:
    old = time.time() - GRACE_S - 60
    os.utime(path, (old, old))


def test_a_killed_upload_leaves_a_temp_file_that_verify_reports_and_repair_removes(
    ctx: Context, cli: Any
) -> None:
    root = Path(ctx.artifacts.root)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_UPLOAD, ctx.artifacts.url], env=os.environ.copy())
    deadline = time.time() + 30
    while not any(p.stat().st_size for p in (root / "tmp").glob("upload-*")):
        assert time.time() < deadline and proc.poll() is None, "the upload never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [temp] = list((root / "tmp").glob("upload-*"))
    assert f"upload-{proc.pid}-" in temp.name

    report = _verify(cli)
    assert report["temp_files"] == [str(temp)] and report["ok"] and temp.exists()
    repaired = _verify(cli, "--repair")
    assert repaired["removed"] == [str(temp)] and not temp.exists()
    assert _verify(cli)["temp_files"] == []


def test_unreferenced_blobs_are_reported_and_removed_only_past_the_grace(ctx: Context, cli: Any) -> None:
    run = tracking.create_run(ctx, spec=RunCreate(project="p"))
    linked = ctx.artifacts.put_bytes(b"a run's artifact")
    tracking.record_artifact(ctx, run_id=run.id, name="a", sha256=linked.sha256, size=linked.size)
    old_orphan = ctx.artifacts.put_bytes(b"uploaded, never linked").sha256
    new_orphan = ctx.artifacts.put_bytes(b"uploaded a moment ago").sha256
    root = Path(ctx.artifacts.root) / "sha256"
    for sha in (linked.sha256, old_orphan):
        _backdate(root / sha[:2] / sha[2:])

    report = _verify(cli)
    assert sorted(report["orphans"]) == sorted([old_orphan, new_orphan]) and report["removed"] == []
    repaired = _verify(cli, "--repair")
    assert repaired["removed"] == [old_orphan]
    assert not ctx.artifacts.exists(old_orphan)
    assert ctx.artifacts.exists(new_orphan) and ctx.artifacts.exists(linked.sha256)
    assert ctx.artifacts.read_bytes(linked.sha256) == b"a run's artifact"
