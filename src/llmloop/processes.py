"""Child processes that do not outlive their parent."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: on Linux the child is sent SIGTERM when the process
    that started it dies, even by SIGKILL, so a killed pipeline or quickstart leaves no step worker or
    server behind holding the store (elsewhere ``None``: stop the child yourself)."""
    return _die_with_parent if sys.platform.startswith("linux") else None
