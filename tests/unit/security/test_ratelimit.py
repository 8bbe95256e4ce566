"""Failed-login throttling."""

from __future__ import annotations

import time

from llmloop.security.ratelimit import FailureLimiter


def test_limit_per_key_and_window_expiry() -> None:
    lim = FailureLimiter(3, 0.3)
    for _ in range(3):
        assert lim.retry_after("user:a", "ip:1") is None
        lim.failed("user:a", "ip:1")
    wait = lim.retry_after("user:a", "ip:1")
    assert wait is not None and wait >= 1
    assert lim.retry_after("user:b", "ip:1") is not None  # same address, other name: still blocked
    assert lim.retry_after("user:b", "ip:2") is None
    time.sleep(0.35)
    assert lim.retry_after("user:a", "ip:1") is None


def test_success_clears_the_name_but_not_the_address() -> None:
    lim = FailureLimiter(2, 60)
    lim.failed("user:a", "ip:1")
    lim.failed("user:a", "ip:1")
    lim.succeeded("user:a")
    assert lim.retry_after("user:a") is None
    assert lim.retry_after("ip:1") is not None
