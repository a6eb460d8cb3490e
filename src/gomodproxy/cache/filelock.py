"""Single-flight across the worker processes of one host, with ``flock`` on lock files.

Within a process, ``LocalSingleFlight`` makes one task per key; that task then takes an
exclusive ``flock`` on ``<directory>/<hash of key>.lock`` (``localfs.filelock``) before
running ``fn``. A worker that finds the lock held waits for it and then runs ``fn``, which
begins by re-checking storage (the contract of ``SingleFlight``), so it finds what the first
worker stored and fetches nothing. The kernel drops a lock when its holder dies, so a killed
worker never blocks the others.

Lock files do not accumulate (every distinct cold request, even of an absent module, takes
one): the holder removes the file before it releases the lock, which ``localfs.filelock``
makes safe for the waiters. A worker killed while holding a lock leaves its file behind; the
next holder of that key removes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gomodproxy.cache.memory import LocalSingleFlight
from gomodproxy.localfs import filelock

T = TypeVar("T")


class FileLockSingleFlight:
    """``SingleFlight`` for several processes sharing ``directory``."""

    #: A local directory: it never degrades (it is what Redis falls back to).
    can_degrade = False
    degraded = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._local = LocalSingleFlight()

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await self._local.run(key, lambda: self._locked(key, fn))

    async def _locked(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        name = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        path = self.directory / f"{name}.lock"
        async with filelock.held(path, remove=True):
            return await fn()

    def inflight(self) -> int:
        return self._local.inflight()

    async def aclose(self) -> None:
        await self._local.aclose()
