"""Keep serving when a remote store (the OCI registry) is down.

``DegradingStore`` wraps a remote ``BlobStore``. Every value this process writes is also kept
in a local spool directory (a ``put_file`` is moved there first and uploaded from there, so a
zip is written to local disk once either way). While the remote answers, reads go to it.
When it fails:

- reads fall back to the local copy when there is one, else answer "missing" instead of
  raising, so the service fetches through from upstream;
- writes stay in the spool only (the proxy serves the artifact it just fetched and
  validated without storing it remotely), logged as such;
- for ``retry_after`` seconds the remote is not asked at all (no timeout per request), then
  one call tries it again (a probe task does so when no request comes);
- once the remote answers again, the values it lacks are written to it in the background,
  so other replicas see them too.

The local copy also closes the window in which the registry dies between the service's
write and its read-back of the same artifact. The spool is a private temp directory removed
on ``aclose`` (or, after a ``kill -9``, by the next process to start) and bounded by
``spool_bytes``: values already stored remotely are dropped
first, oldest first; values never stored are dropped last (a later request fetches them
again). Values are only ever whole: the spool is a ``FilesystemStore``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from gomodproxy.errors import StorageError
from gomodproxy.localfs.procs import pid_alive
from gomodproxy.ports.storage import BlobInfo, BlobStore
from gomodproxy.storage.filesystem import FilesystemStore

log = logging.getLogger("gomodproxy.storage")
SPOOL_PREFIX = "gomodproxy-spool-"
T = TypeVar("T")
_DOWN: Any = object()


class DegradingStore:
    """A remote store that degrades to a local spool while it is unreachable."""

    can_degrade = True
    #: The spool is a private cache of some values, not the tree: no local root.
    root: Path | None = None

    def __init__(
        self,
        remote: BlobStore,
        *,
        retry_after: float = 2.0,
        spool_bytes: int = 512 * 1024**2,
        spool_dir: Path | None = None,
    ) -> None:
        self.remote = remote
        self.kind = remote.kind
        self.retry_after = retry_after
        self.spool_bytes = spool_bytes
        base = Path(spool_dir or tempfile.gettempdir())
        _remove_dead_spools(base)
        self._spool_root = Path(tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=base))
        self.spool = FilesystemStore(self._spool_root)
        #: key → (size, stored remotely) of the values kept locally, oldest first.
        self._local: OrderedDict[str, tuple[int, bool]] = OrderedDict()
        self._local_bytes = 0
        #: True while the remote is failing; then reads miss and writes are spooled.
        self.degraded = False
        self.last_error = ""
        self._down_until = 0.0
        self._flush: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None
        self._closed = False

    def status(self) -> dict[str, Any]:
        return {
            "storage": self.kind,
            "degraded": self.degraded,
            "last_error": self.last_error if self.degraded else "",
            "unstored": sum(1 for _, stored in self._local.values() if not stored),
        }

    async def check(self) -> None:
        """The remote's start-up check: a configuration error (no such bucket, wrong
        credentials) raises; an unreachable remote starts degraded instead."""
        try:
            await self.remote.check()
        except StorageError as exc:
            self._down(exc)

    # -- remote calls with the circuit breaker ------------------------------------------------

    async def _remote(self, call: Callable[[], Awaitable[T]]) -> T:
        """The remote's answer, or ``_DOWN`` when it failed or is known to be down."""
        if self.degraded and time.monotonic() < self._down_until:
            return _DOWN  # type: ignore[no-any-return]
        try:
            result = await call()
        except StorageError as exc:
            self._down(exc)
            return _DOWN  # type: ignore[no-any-return]
        if self.degraded:
            self._up()
        return result

    def _down(self, exc: BaseException) -> None:
        self.last_error = str(exc)
        self._down_until = time.monotonic() + self.retry_after
        if not self.degraded:
            self.degraded = True
            log.warning(
                "%s storage unavailable (%s): serving from memory and upstream without "
                "storing until it is back",
                self.kind,
                exc,
            )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._probe_loop())

    async def _probe_loop(self) -> None:
        """Notice the remote coming back even when every request is a memory hit."""
        while self.degraded and not self._closed:
            await asyncio.sleep(self.retry_after)
            await self._remote(lambda: self.remote.stat("_meta/probe"))

    def _up(self) -> None:
        self.degraded = False
        unstored = [k for k, (_, stored) in self._local.items() if not stored]
        log.warning("%s storage is back; %d artifacts to store", self.kind, len(unstored))
        if unstored and (self._flush is None or self._flush.done()):
            self._flush = asyncio.get_running_loop().create_task(self._store_unstored())

    async def _store_unstored(self) -> None:
        for key, (size, stored) in list(self._local.items()):
            if stored:
                continue
            info = await self.spool.stat(key)
            if info is None or info.local_path is None:
                self._forget(key)
                continue
            try:
                await self.remote.put_file(key, info.local_path)
            except StorageError as exc:
                self._down(exc)
                return
            if key in self._local:
                self._local[key] = (size, True)

    # -- the local copies -----------------------------------------------------------------------

    def _keep(self, key: str, size: int, stored: bool) -> None:
        if not stored:
            log.warning("%s storage down: %s served without being stored", self.kind, key)
        self._forget(key, unlink=False)
        self._local[key] = (size, stored)
        self._local_bytes += size
        while self._local_bytes > self.spool_bytes and len(self._local) > 1:
            victim = next((k for k, (_, s) in self._local.items() if s), None)
            self._forget(victim or next(iter(self._local)))

    def _forget(self, key: str, *, unlink: bool = True) -> None:
        item = self._local.pop(key, None)
        if item is None:
            return
        self._local_bytes -= item[0]
        if unlink:
            with contextlib.suppress(OSError):
                (self._spool_root / key).unlink()

    def _unstored(self, key: str) -> bool:
        item = self._local.get(key)
        return item is not None and not item[1]

    # -- BlobStore ----------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        if not self._unstored(key):
            data = await self._remote(lambda: self.remote.get(key))
            if data is not _DOWN:
                return data
        return await self.spool.get(key) if key in self._local else None

    async def stat(self, key: str) -> BlobInfo | None:
        if not self._unstored(key):
            info = await self._remote(lambda: self.remote.stat(key))
            if info is not _DOWN:
                return info
        return await self.spool.stat(key) if key in self._local else None

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        local = key in self._local
        if self._unstored(key) or (local and self.degraded):
            async for chunk in self.spool.stream(key, start, end):
                yield chunk
            return
        chunks = self.remote.stream(key, start, end).__aiter__()
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except StorageError as exc:
            if not local:
                raise
            self._down(exc)  # failed before any byte: the local copy can stand in
            async for chunk in self.spool.stream(key, start, end):
                yield chunk
            return
        yield first
        async for chunk in chunks:
            yield chunk

    async def put(self, key: str, data: bytes) -> None:
        await self.spool.put(key, data)

        async def upload() -> bool:
            await self.remote.put(key, data)
            return True

        self._keep(key, len(data), await self._remote(upload) is True)

    async def put_file(self, key: str, src: Path) -> None:
        size = src.stat().st_size
        await self.spool.put_file(key, src)
        local = self._spool_root / key

        async def upload() -> bool:
            await self.remote.put_file(key, local)  # reads the file, leaves it in place
            return True

        self._keep(key, size, await self._remote(upload) is True)

    async def delete(self, key: str) -> bool:
        had = key in self._local
        self._forget(key)
        return await self.remote.delete(key) or had

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        unstored = [k for k in self._local if k.startswith(prefix) and self._unstored(k)]
        for key in unstored:
            yield key
        async for key in self.remote.list(prefix):
            if key not in unstored:
                yield key

    async def aclose(self) -> None:
        self._closed = True
        tasks = {t for t in (self._flush, self._probe) if t is not None}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        await self.remote.aclose()
        shutil.rmtree(self._spool_root, ignore_errors=True)


def _remove_dead_spools(base: Path) -> None:
    """Remove spool directories left by processes that were killed (``kill -9``)."""
    try:
        entries = list(base.glob(f"{SPOOL_PREFIX}*-*"))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(SPOOL_PREFIX) :].partition("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
