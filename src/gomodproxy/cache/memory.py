"""In-process implementations: metadata cache, single-flight and the hot artifact cache."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from gomodproxy.ports.cache import CacheEntry

T = TypeVar("T")
V = TypeVar("V")


class MemoryMetadataCache:
    """A dict of entries with an expiry, bounded in count (oldest insertions dropped first)."""

    tier = "memory"

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._entries: OrderedDict[str, tuple[CacheEntry, float]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    async def get(self, key: str) -> CacheEntry | None:
        item = self._entries.get(key)
        if item is None:
            return None
        entry, expires = item
        if self._clock() >= expires:
            del self._entries[key]
            return None
        return entry

    async def set(self, key: str, value: bytes, keep: float, *, not_found: bool = False) -> None:
        now = self._clock()
        self._entries.pop(key, None)
        self._entries[key] = (CacheEntry(value, now, not_found), now + keep)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def aclose(self) -> None:
        self._entries.clear()


class LocalSingleFlight:
    """Single-flight within one event loop: one task runs, the others await its future.

    The run happens in its own task, so a waiter that is cancelled (client gone) neither
    cancels the fetch for the others nor leaves a half-done temp file.
    """

    #: Nothing shared to lose: it never degrades.
    can_degrade = False
    degraded = False

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        fut = self._running.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._run(key, fn))
            # Mark the outcome retrieved even when every waiter went away before it ended.
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._running[key] = fut
        result: T = await asyncio.shield(fut)
        return result

    async def _run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        finally:
            self._running.pop(key, None)

    def inflight(self) -> int:
        return len(self._running)

    async def aclose(self) -> None:
        for fut in list(self._running.values()):
            fut.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


class HotCache(Generic[V]):
    """LRU of values bounded by the sum of their sizes (bytes)."""

    def __init__(self, max_bytes: int, max_item_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = min(max_item_bytes, max_bytes)
        self.used = 0
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def fits(self, size: int) -> bool:
        return size <= self.max_item_bytes

    def put(self, key: str, value: V, size: int) -> None:
        if not self.fits(size):
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[1]
        self._items[key] = (value, size)
        self.used += size
        while self.used > self.max_bytes and self._items:
            _, (_, dropped) = self._items.popitem(last=False)
            self.used -= dropped

    def discard(self, key: str) -> None:
        """Forget ``key`` (admin purge)."""
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[1]

    def __len__(self) -> int:
        return len(self._items)
