"""Single-flight across the worker processes of one host, with ``flock`` on lock files.

Within a process, ``LocalSingleFlight`` makes one task per key; that task then takes an
exclusive ``flock`` on ``<directory>/<hash of key>.lock`` before running ``fn``. A worker that
finds the lock held waits for it and then runs ``fn``, which begins by re-checking storage
(the contract of ``SingleFlight``), so it finds what the first worker stored and fetches
nothing. Waiting polls every few milliseconds. The kernel drops a lock when its holder
dies, so a killed worker never blocks the others. Lock files are tiny and kept for reuse.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gomodproxy.cache.memory import LocalSingleFlight

T = TypeVar("T")


class FileLockSingleFlight:
    """``SingleFlight`` for several processes sharing ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._local = LocalSingleFlight()

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await self._local.run(key, lambda: self._locked(key, fn))

    async def _locked(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        name = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        fd = os.open(self.directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            delay = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # Polling (not a blocking flock in a thread) keeps cancellation safe.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.1)
            return await fn()
        finally:
            os.close(fd)  # closing releases the lock

    def inflight(self) -> int:
        return self._local.inflight()

    async def aclose(self) -> None:
        await self._local.aclose()
