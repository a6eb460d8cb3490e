"""Timing the shared parts: how long requests wait in single-flight, and how long metadata
cache (in-process or Redis) operations take.

- ``gomodproxy_singleflight_wait_seconds{role}``: ``follower`` is a request that found a
  fetch of the same artifact in progress in this process and waited for its result;
  ``leader`` is the time the request that runs the fetch waited before it could start it
  (for another process or replica holding the host-wide or Redis lock).
- ``gomodproxy_metadata_cache_duration_seconds{tier, op}``: ``get``/``set`` of the metadata
  cache (``memory`` or ``redis``; ``@v/list``, ``@latest`` and query answers).

Both are wrappers built by ``gomodproxy.compose.build_app``; they forward the declared
capabilities of the wrapped object (``can_degrade`` and ``degraded`` of a single-flight, the
``tier`` of a metadata cache), and nothing else of it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gomodproxy.ops.metrics import UPSTREAM_BUCKETS, Metrics
from gomodproxy.ports.cache import CacheEntry, MetadataCache, SingleFlight

T = TypeVar("T")

WAIT = "gomodproxy_singleflight_wait_seconds"
WAIT_HELP = "Time a request waited in single-flight: for another's fetch, or for the lock."
META = "gomodproxy_metadata_cache_duration_seconds"
META_HELP = "Time of one metadata cache operation, by tier (memory, redis) and operation."


class TimedFlight:
    """A ``SingleFlight`` that records how long its callers wait."""

    def __init__(self, inner: SingleFlight, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    @property
    def can_degrade(self) -> bool:
        return self.inner.can_degrade

    @property
    def degraded(self) -> bool:
        return self.inner.degraded

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        start = time.perf_counter()
        started: list[float] = []

        async def timed() -> T:
            started.append(time.perf_counter())
            return await fn()

        try:
            return await self.inner.run(key, timed)
        finally:
            if started:
                self._observe("leader", started[0] - start)
            else:
                self._observe("follower", time.perf_counter() - start)

    def _observe(self, role: str, seconds: float) -> None:
        self.metrics.observe(WAIT, WAIT_HELP, (("role", role),), seconds, UPSTREAM_BUCKETS)

    def inflight(self) -> int:
        return self.inner.inflight()

    async def aclose(self) -> None:
        await self.inner.aclose()


class TimedMetadataCache:
    """A ``MetadataCache`` whose ``get`` and ``set`` are timed."""

    def __init__(self, inner: MetadataCache, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        #: The histogram's label is the cache configured (a Redis cache's operations are
        #: Redis calls, whatever answered), not the answering tier of the last lookup.
        self._label = inner.tier

    @property
    def tier(self) -> str:
        return self.inner.tier

    async def get(self, key: str) -> CacheEntry | None:
        start = time.perf_counter()
        try:
            return await self.inner.get(key)
        finally:
            self._observe("get", start)

    async def set(self, key: str, value: bytes, keep: float, *, not_found: bool = False) -> None:
        start = time.perf_counter()
        try:
            await self.inner.set(key, value, keep, not_found=not_found)
        finally:
            self._observe("set", start)

    def _observe(self, op: str, start: float) -> None:
        labels = (("op", op), ("tier", self._label))
        self.metrics.observe(META, META_HELP, labels, time.perf_counter() - start)

    async def aclose(self) -> None:
        await self.inner.aclose()
