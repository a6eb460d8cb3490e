"""When module versions were last served, tracked cheaply for ``gc --keep-days``.

Each process keeps, per UTC day, the set of module versions it served in memory and
rewrites one small key for it, ``_meta/access/<YYYY-MM-DD>/<writer>``, at most once per
``interval`` seconds and when it closes: one write a minute per process, whatever the
request rate, and no shared key to race on. A line is ``<escaped path>@<escaped version>``.
Reading the last N days' keys gives the versions served within N days (to the day).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from gomodproxy.errors import GoModProxyError
from gomodproxy.ports.keys import split_version_key
from gomodproxy.ports.storage import BlobStore

__all__ = ["PREFIX", "AccessLog", "day_of", "read_accessed"]

PREFIX = "_meta/access/"
log = logging.getLogger("gomodproxy.access")


def day_of(t: float) -> str:
    """The UTC day of a UNIX time, as the access keys name it."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


class AccessLog:
    """Records the module versions a process serves (``touch`` with a storage key)."""

    def __init__(
        self,
        store: BlobStore,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.interval = interval
        self.clock = clock
        self.writer = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._day = ""
        self._day_end = 0.0
        self._seen: set[str] = set()
        self._dirty = False
        self._last_flush = clock()
        self._task: asyncio.Future[None] | None = None

    def touch(self, key: str) -> None:
        """Note that the version of ``key`` (any of its files) was served now."""
        split = split_version_key(key)
        if split is None:
            return
        now = self.clock()
        if now >= self._day_end:
            # A new UTC day (or the first touch): start its set, flushing the old one.
            if self._dirty:
                self._spawn(after_running=True)
            self._day, self._seen = day_of(now), set()
            self._day_end = (now // 86400 + 1) * 86400
        entry = f"{split[0]}@{split[1]}"
        if entry not in self._seen:
            self._seen.add(entry)
            self._dirty = True
        if self._dirty and now - self._last_flush >= self.interval:
            self._spawn()

    def _spawn(self, *, after_running: bool = False) -> None:
        """Write the day's set in the background. A periodic write is skipped while one
        runs (the next touch retries); the last write of a day waits for it instead."""
        prev = self._task
        if prev is not None and prev.done():
            prev = None
        if prev is not None and not after_running:
            return
        # Taken now, so touches while the write runs mark the set dirty again.
        day, seen = self._day, set(self._seen)
        self._dirty = False
        self._last_flush = self.clock()
        self._task = asyncio.ensure_future(self._write(day, seen, prev))

    async def _write(
        self, day: str, seen: set[str], prev: asyncio.Future[None] | None = None
    ) -> None:
        if prev is not None:
            await asyncio.gather(prev, return_exceptions=True)
        try:
            await self.store.put(f"{PREFIX}{day}/{self.writer}", "\n".join(sorted(seen)).encode())
        except GoModProxyError as exc:
            if day == self._day:
                self._dirty = True
            log.warning("could not record served versions: %s", exc)

    async def flush(self) -> None:
        """Write what is pending now (on shutdown)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._dirty and self._day:
            self._dirty = False
            await self._write(self._day, set(self._seen))


async def read_accessed(store: BlobStore, since_day: str) -> dict[str, str]:
    """``<escaped path>@<escaped version>`` → the last day (``YYYY-MM-DD``) it was served,
    for days from ``since_day`` on."""
    last: dict[str, str] = {}
    async for key in store.list(PREFIX):
        day = key[len(PREFIX) :].split("/", 1)[0]
        if day < since_day:
            continue
        data = await store.get(key)
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            if line and last.get(line, "") < day:
                last[line] = day
    return last
