"""Rate limits (requests and tokens per minute, per API key and per deployment) and the admission queue.

Counters live in fixed one-minute windows: in memory for one process, in Redis when several
processes serve (``LLMLOOP_GATEWAY_REDIS_URL``), where an INCR per window key keeps every
process's counts in one place. Requests are counted when admitted; tokens are added once a
call reports its usage, so a key over its token budget is refused from its next request on.
A refusal names how long until the window turns over (``Retry-After``).

Admission bounds work in flight: up to ``max_in_flight`` requests run, up to ``max_queue``
more wait, and beyond that a request is refused at once with 503 instead of piling up memory.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from llmloop.errors import RateLimited, Unavailable

WINDOW_S = 60


class RateLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)


class Counter(Protocol):
    async def add(self, key: str, window: int, requests: int, tokens: int) -> tuple[int, int]:
        """Add to the window's counts and return the new (requests, tokens)."""
        ...


class MemoryCounter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], list[int]] = {}
        self._lock = threading.Lock()

    async def add(self, key: str, window: int, requests: int, tokens: int) -> tuple[int, int]:
        with self._lock:
            if len(self._counts) > 100_000:  # forget windows that have passed
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            c = self._counts.setdefault((key, window), [0, 0])
            c[0] += requests
            c[1] += tokens
            return c[0], c[1]


class RedisCounter:
    """Counts shared by every process pointing at one Redis; one client per event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio

            client = self._clients[loop] = redis.asyncio.Redis.from_url(self.url, socket_timeout=2)
        return client

    async def add(self, key: str, window: int, requests: int, tokens: int) -> tuple[int, int]:
        rk = f"llmloop:ratelimit:{key}:{window}"
        try:
            pipe = self._client().pipeline(transaction=True)
            pipe.hincrby(rk, "r", requests)
            pipe.hincrby(rk, "t", tokens)
            pipe.expire(rk, WINDOW_S * 2)
            r, t, _ = await pipe.execute()
        except Exception as e:  # the limiter's store is down: refuse rather than serve unlimited
            raise Unavailable(f"rate limit store unreachable: {type(e).__name__}", details={}) from e
        return int(r), int(t)


@dataclass
class Limiter:
    counter: Counter

    async def admit(self, key: str, limits: RateLimits) -> None:
        """Count one request for ``key``; ``RateLimited`` when it is over either budget."""
        if limits.requests_per_minute is None and limits.tokens_per_minute is None:
            return
        now = time.time()
        window = int(now // WINDOW_S)
        requests, tokens = await self.counter.add(key, window, 1, 0)
        retry = (window + 1) * WINDOW_S - now
        if limits.requests_per_minute is not None and requests > limits.requests_per_minute:
            raise RateLimited(
                f"{key}: over {limits.requests_per_minute} requests per minute",
                details={"limit": "requests_per_minute", "key": key, "retry_after_s": retry},
            )
        if limits.tokens_per_minute is not None and tokens >= limits.tokens_per_minute:
            raise RateLimited(
                f"{key}: over {limits.tokens_per_minute} tokens per minute",
                details={"limit": "tokens_per_minute", "key": key, "retry_after_s": retry},
            )

    async def spend(self, key: str, limits: RateLimits, tokens: int) -> None:
        if limits.tokens_per_minute is not None and tokens > 0:
            await self.counter.add(key, int(time.time() // WINDOW_S), 0, tokens)


def limiter_for(redis_url: str | None) -> Limiter:
    return Limiter(RedisCounter(redis_url) if redis_url else MemoryCounter())


class Admission:
    """At most ``max_in_flight`` running and ``max_queue`` waiting; beyond that, 503 at once."""

    def __init__(self, max_in_flight: int, max_queue: int) -> None:
        self.max_in_flight = max_in_flight
        self.max_queue = max_queue
        self.running = 0
        self.waiting = 0
        self._sem: asyncio.Semaphore | None = None

    async def enter(self) -> None:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_in_flight)
        if self.running >= self.max_in_flight and self.waiting >= self.max_queue:
            raise Unavailable(
                f"gateway busy: {self.running} requests running and {self.waiting} queued",
                details={"max_in_flight": self.max_in_flight, "max_queue": self.max_queue},
            )
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.running += 1

    def leave(self) -> None:
        self.running -= 1
        assert self._sem is not None
        self._sem.release()
