"""Exclusive locks shared by the processes of one host: ``flock`` on a lock file.

The lock is taken by polling a non-blocking ``flock`` (every few milliseconds, backing off to
a tenth of a second), not by a blocking ``flock`` in a thread: a waiter cancelled while
polling holds nothing and leaves no thread behind that would take the lock later. The kernel
drops a lock when its holder dies, so a killed process never blocks the others.

A holder may remove the lock file before it releases the lock (``held(..., remove=True)``),
so that lock files named after keys do not accumulate. A waiter that then gets the lock holds
it on a removed file; it sees that the path no longer names the inode it locked (or names
none) and starts over with the file now there, so two holders never exist at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

#: The first and the longest wait between two attempts, in seconds.
FIRST_DELAY = 0.005
LONGEST_DELAY = 0.1


async def acquire(path: Path) -> int:
    """An fd holding an exclusive ``flock`` on the file ``path`` names right now (created if
    missing). Closing the fd releases the lock."""
    delay = FIRST_DELAY
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, LONGEST_DELAY)
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
        os.close(fd)  # the holder removed the file we locked: lock the one there now


@contextlib.asynccontextmanager
async def held(path: Path, *, remove: bool = False) -> AsyncIterator[None]:
    """Hold the lock on ``path`` for the body; with ``remove``, delete the file before
    releasing it (see the module docstring)."""
    fd = await acquire(path)
    try:
        yield
    finally:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.close(fd)
