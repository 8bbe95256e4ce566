"""The quickstart's turn-2 server dies with the process that started it, even one killed by SIGKILL
(which runs no ``finally``), so a killed demo leaves no server holding its port and store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

START = (
    "import time\n"
    "from llmloop.examples.travel.turn2 import LiveServer\n"
    "s = LiveServer()\n"
    "print(s.port, s.proc.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_a_sigkilled_quickstart_takes_its_server_with_it(tmp_path: Path) -> None:
    env = dict(os.environ, LLMLOOP_HOME=str(tmp_path / "home"))
    parent = subprocess.Popen([sys.executable, "-c", START], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        port, pid = (int(x) for x in parent.stdout.readline().split())
        assert alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.time() + 30
        while alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        assert not alive(pid), f"server {pid} on port {port} outlived the killed quickstart"
    finally:
        parent.kill()
