"""Single-flight across the worker processes of one host, with ``flock`` on lock files.

Within a process, ``LocalSingleFlight`` makes one task per key; that task then takes an
exclusive ``flock`` on ``<directory>/<hash of key>.lock`` before running ``fn``. A worker that
finds the lock held waits for it and then runs ``fn``, which begins by re-checking storage
(the contract of ``SingleFlight``), so it finds what the first worker stored and fetches
nothing. Waiting polls every few milliseconds. The kernel drops a lock when its holder
dies, so a killed worker never blocks the others.

Lock files do not accumulate (every distinct cold request, even of an absent module, takes
one): the holder removes the file before it releases the lock. A waiter that then gets the
lock holds it on a removed file, sees that the path no longer names the inode it locked
(or names none) and starts over with a fresh file, so two holders never exist at once. A
worker killed while holding a lock leaves its file behind; the next holder of that key
removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        fd = await _acquire(path)
        try:
            return await fn()
        finally:
            # Unlink while holding the lock, then release: see the module docstring.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)

    def inflight(self) -> int:
        return self._local.inflight()

    async def aclose(self) -> None:
        await self._local.aclose()


async def _acquire(path: Path) -> int:
    """An fd holding an exclusive ``flock`` on the file ``path`` names right now."""
    delay = 0.005
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # Polling (not a blocking flock in a thread) keeps cancellation safe.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.1)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            locked = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if current is not None and (current.st_ino, current.st_dev) == (
            locked.st_ino,
            locked.st_dev,
        ):
            return fd
        os.close(fd)  # the holder removed the file we locked: lock the new one
