"""Token buckets per principal and per address; a cap on concurrent upstream fetches.

A bucket holds up to ``burst`` tokens and gains ``rate`` per second; a request takes one or
is refused (429 with ``Retry-After``). Anonymous requests count against their address only;
authenticated ones against both their principal and their address, so one noisy CI runner
cannot starve its neighbours and one leaked token cannot be used from a thousand hosts at full
speed. Idle buckets are dropped so the tables stay small.

The upstream cap wraps the service's source: each fetch that reaches an upstream (a cache
miss) holds one slot of the principal that caused it, so one principal asking for a
thousand cold modules waits for its own slots while others' requests go through.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gomodproxy.ports.source import Source

_T = TypeVar("_T")
_SWEEP_EVERY = 4096

#: The principal (or ``addr:<ip>``) a request is being served for, for the fetch cap.
current_principal: contextvars.ContextVar[str] = contextvars.ContextVar(
    "gomodproxy_principal", default=""
)


class TokenBuckets:
    """Many token buckets of one rate and burst, keyed by name."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}
        self._ops = 0

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when granted, else seconds until one is available."""
        now = self._clock()
        self._ops += 1
        if self._ops % _SWEEP_EVERY == 0:
            self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate
        stale = [k for k, b in self._buckets.items() if now - b[1] > full_after]
        for key in stale:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimiter:
    """Per-principal and per-address buckets; either may be off (rate 0)."""

    def __init__(
        self,
        *,
        principal_rate: float = 0.0,
        principal_burst: float = 0.0,
        address_rate: float = 0.0,
        address_burst: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.principals = (
            TokenBuckets(principal_rate, max(1.0, principal_burst or principal_rate), clock)
            if principal_rate > 0
            else None
        )
        self.addresses = (
            TokenBuckets(address_rate, max(1.0, address_burst or address_rate), clock)
            if address_rate > 0
            else None
        )

    @property
    def enabled(self) -> bool:
        return self.principals is not None or self.addresses is not None

    def check(self, principal: str, address: str) -> int:
        """0 when the request may go on, else the ``Retry-After`` seconds (at least 1)."""
        wait = 0.0
        if self.addresses is not None:
            wait = self.addresses.take(address)
        if wait == 0.0 and principal and self.principals is not None:
            wait = self.principals.take(principal)
        return 0 if wait == 0.0 else max(1, math.ceil(wait))


class FetchLimiter:
    """At most ``limit`` concurrent upstream fetches per principal."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    async def run(self, key: str, work: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``work`` holding one of ``key``'s slots (waiting for one if all are taken)."""
        if not key or self.limit <= 0:
            return await work()
        sem = self._sems.get(key)
        if sem is None:
            sem = self._sems[key] = asyncio.Semaphore(self.limit)
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with sem:
                return await work()
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                self._sems.pop(key, None)

    def in_use(self, key: str) -> int:
        """Slots of ``key`` taken now (for tests and the status page)."""
        sem = self._sems.get(key)
        return 0 if sem is None else self.limit - sem._value


class LimitedSource:
    """A Source whose upstream calls hold a slot of the requesting principal."""

    def __init__(self, inner: Source, limiter: FetchLimiter) -> None:
        self.inner = inner
        self.limiter = limiter
        self.name = inner.name

    def label(self, path: str) -> str:
        return self.inner.label(path)

    async def _call(self, work: Callable[[], Awaitable[_T]]) -> _T:
        return await self.limiter.run(current_principal.get(), work)

    async def list(self, path: str) -> bytes:
        return await self._call(lambda: self.inner.list(path))

    async def info(self, path: str, query: str) -> bytes:
        return await self._call(lambda: self.inner.info(path, query))

    async def latest(self, path: str) -> bytes:
        return await self._call(lambda: self.inner.latest(path))

    async def mod(self, path: str, version: str) -> bytes:
        return await self._call(lambda: self.inner.mod(path, version))

    async def zip(self, path: str, version: str, dest: Path) -> None:
        await self._call(lambda: self.inner.zip(path, version, dest))

    async def aclose(self) -> None:
        await self.inner.aclose()
