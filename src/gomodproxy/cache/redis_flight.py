"""``SingleFlight`` across replicas with Redis: one replica fetches, the others wait for it.

Theory of operation.

1. Within a process, ``LocalSingleFlight`` lets one task per key go on; the others share it.
2. That task tries to take the lock ``<prefix>:sf:{h}:lock`` with one Lua script that, only
   when the lock is free, increments the key's fence counter and sets the lock to
   ``<fence>:<replica id>`` with a lease (``PX``). The fence orders holders: renewal and
   release are compare-and-set on the exact value, so a holder whose lease lapsed can neither
   extend nor delete its successor's lock.
3. The holder runs ``fn`` while a task renews the lease every third of it. When ``fn`` ends
   (result or error) the lock is released and ``done`` published with the key.
4. A replica that found the lock taken waits for that ``done`` notification, or at the latest
   until the lease would lapse (the remaining PTTL, capped at ``max_wait``), then tries again.
   When it gets the lock it runs ``fn``, which begins by re-checking storage (the contract of
   ``SingleFlight``) and so finds what the holder stored. A holder killed mid-fetch stops
   renewing; its lease lapses and the next replica takes over. Waiting has no deadline of its
   own, so a waiter never fails because a lock timed out.
5. Redis down at any step → the backend is degraded and the flight runs through ``fallback``
   (in-process or host-wide locks); a holder keeps going with its fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gomodproxy.cache.memory import LocalSingleFlight
from gomodproxy.cache.redis_backend import RedisBackend, RedisDown
from gomodproxy.ports.cache import SingleFlight

log = logging.getLogger("gomodproxy.redis")
T = TypeVar("T")

#: The fence of the lock the current task holds (0 outside a distributed flight).
current_fence: contextvars.ContextVar[int] = contextvars.ContextVar("fence", default=0)

_ACQUIRE = """
local ttl = redis.call('pttl', KEYS[1])
if ttl ~= -2 then return {0, ttl} end
local fence = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], fence .. ':' .. ARGV[1], 'PX', ARGV[2])
return {fence, 0}
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisSingleFlight:
    """One fetch per key across every replica sharing a Redis."""

    #: While Redis is down it runs through ``fallback`` (see the module docstring).
    can_degrade = True

    def __init__(
        self,
        backend: RedisBackend,
        *,
        lease: float = 10.0,
        max_wait: float = 5.0,
        fallback: SingleFlight | None = None,
    ) -> None:
        self.backend = backend
        self.lease_ms = max(100, int(lease * 1000))
        self.max_wait = max_wait
        self.fallback: SingleFlight = fallback or LocalSingleFlight()
        self._local = LocalSingleFlight()
        #: Leases found lost while holding (a pause longer than the lease, or Redis lost data).
        self.leases_lost = 0
        client = backend.client
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def degraded(self) -> bool:
        return self.backend.degraded

    def status(self) -> dict[str, object]:
        return {**self.backend.status(), "leases_lost": self.leases_lost}

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await self._local.run(key, lambda: self._distributed(key, fn))

    def _keys(self, key: str) -> tuple[str, str]:
        h = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        # The {h} hash tag keeps both keys in one slot of a Redis Cluster.
        return self.backend.key("sf", "{" + h + "}", "lock"), self.backend.key(
            "sf", "{" + h + "}", "fence"
        )

    async def _distributed(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        lock, fence_key = self._keys(key)
        me = self.backend.replica_id
        while True:
            if self.backend.degraded:
                return await self.fallback.run(key, fn)
            with self.backend.watch(key) as done:
                try:
                    fence, ttl = await self.backend.call(
                        lambda: self._acquire(keys=[lock, fence_key], args=[me, self.lease_ms])
                    )
                except RedisDown:
                    continue
                if int(fence) > 0:
                    return await self._hold(key, lock, f"{int(fence)}:{me}", int(fence), fn)
                wait = self.max_wait if int(ttl) < 0 else min(int(ttl) / 1000 + 0.02, self.max_wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), wait)

    async def _hold(
        self, key: str, lock: str, value: str, fence: int, fn: Callable[[], Awaitable[T]]
    ) -> T:
        done = asyncio.Event()
        renewer = asyncio.get_running_loop().create_task(self._keep_alive(key, lock, value, done))
        token = current_fence.set(fence)
        try:
            return await fn()
        finally:
            current_fence.reset(token)
            # The event, not only cancel(): a cancellation that lands inside redis-py's own
            # timeout can come out as a TimeoutError, and a renewer that missed it would
            # renew (and block every other replica) forever.
            done.set()
            renewer.cancel()
            await asyncio.wait({renewer}, timeout=2.0)
            with contextlib.suppress(RedisDown):
                await self.backend.call(lambda: self._release(keys=[lock], args=[value]))
                await self.backend.notify(key)

    async def _keep_alive(self, key: str, lock: str, value: str, done: asyncio.Event) -> None:
        """Renew the lease every third of it until ``done``; stop once it is found lost."""
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.lease_ms / 3000)
            if done.is_set():
                return
            try:
                ok = await self.backend.call(
                    lambda: self._renew(keys=[lock], args=[value, self.lease_ms])
                )
            except RedisDown:
                continue  # the probe finds Redis again; the lease may be gone by then
            if not ok:
                self.leases_lost += 1
                log.warning("single-flight lease for %s was lost; another replica may fetch", key)
                return

    def inflight(self) -> int:
        return self._local.inflight()

    async def aclose(self) -> None:
        await self._local.aclose()
        await self.fallback.aclose()
        await self.backend.aclose()
