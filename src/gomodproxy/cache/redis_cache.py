"""``MetadataCache`` in Redis: list, latest and query answers shared by every replica, each
kept for its ``keep`` seconds (a Redis TTL), with its storage time so every replica sees the
same age. Every entry is also kept in process memory: when Redis is down (or lost its data
in a restart) the replica answers from there, and Redis is written again once it is back.

In Redis an entry is its storage time (a big-endian double) followed by the value; a
not-found entry's value is ``_NOT_FOUND`` followed by the message. Replicas of earlier
releases wrote (and read) exactly this form, so replicas of both kinds can share one Redis
during a rolling upgrade."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

from gomodproxy.cache.memory import MemoryMetadataCache
from gomodproxy.cache.redis_backend import RedisBackend, RedisDown
from gomodproxy.ports.cache import CacheEntry

_STAMP = struct.Struct("!d")
#: Starts the Redis value of a not-found entry (a NUL never starts a list or a JSON body).
_NOT_FOUND = b"\x00not-found\x00"


class RedisMetadataCache:
    """Redis first, process memory as the fallback."""

    def __init__(
        self,
        backend: RedisBackend,
        local: MemoryMetadataCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.local = local or MemoryMetadataCache(clock=clock)
        self._clock = clock
        #: ``redis``, or ``memory`` when the last lookup was answered from process memory
        #: (the label of the cache-lookup metrics).
        self.tier = "redis"

    def _key(self, key: str) -> str:
        return self.backend.key("meta", key)

    async def get(self, key: str) -> CacheEntry | None:
        client = self.backend.client
        try:
            raw = await self.backend.call(lambda: client.get(self._key(key)))
        except RedisDown:
            self.tier = "memory"
            return await self.local.get(key)
        if not isinstance(raw, bytes) or len(raw) < _STAMP.size:
            # Absent in Redis: written while Redis was down, or lost in a Redis restart.
            entry = await self.local.get(key)
            self.tier = "memory" if entry is not None else "redis"
            return entry
        self.tier = "redis"
        (stored_at,) = _STAMP.unpack_from(raw)
        value = raw[_STAMP.size :]
        if value.startswith(_NOT_FOUND):
            return CacheEntry(value[len(_NOT_FOUND) :], stored_at, not_found=True)
        return CacheEntry(value, stored_at)

    async def set(self, key: str, value: bytes, keep: float, *, not_found: bool = False) -> None:
        await self.local.set(key, value, keep, not_found=not_found)
        client = self.backend.client
        packed = _STAMP.pack(self._clock()) + (_NOT_FOUND if not_found else b"") + value
        ms = max(1, int(keep * 1000))
        try:
            await self.backend.call(lambda: client.set(self._key(key), packed, px=ms))
        except RedisDown:
            pass

    async def aclose(self) -> None:
        await self.local.aclose()
        await self.backend.aclose()
