"""Failed-login throttling: too many failures for one user name or one address within a window → 429.

In memory, per server process: enough to make online password guessing hopeless (5 tries
per 5 minutes per name and per address by default); several server processes each keep
their own count, which multiplies the allowance by the process count, still small.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class FailureLimiter:
    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, t: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= t - self.window_s:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until one more attempt is allowed for every key, or None when allowed now."""
        t = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._recent(key, t)
                if len(q) >= self.max_failures:
                    wait = max(wait, q[len(q) - self.max_failures] + self.window_s - t)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, *keys: str) -> None:
        t = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, t).append(t)
            if len(self._failures) > 100_000:  # bound memory under a spray of names
                for k in [k for k, q in self._failures.items() if not q]:
                    del self._failures[k]

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
