"""Keep serving when a remote store (the OCI registry) is down.

``DegradingStore`` wraps a remote ``BlobStore``. While the remote answers, it is a pass-through
(one dict lookup of overhead). When the remote fails:

- reads answer "missing" instead of raising, so the service fetches through from upstream;
- writes go to a local spool directory instead (the proxy serves the artifact it just
  fetched and validated, without storing it remotely), logged as such;
- for ``retry_after`` seconds the remote is not asked at all (no timeout per request), then
  one call tries it again;
- once the remote answers again, the spooled values are written to it in the background
  and dropped locally, so other replicas see them too.

Spooled values live in a private temp directory removed on ``aclose``; the spool is bounded
by ``spool_bytes`` (oldest values are dropped first: they were never stored, a later request
fetches them again). Values are only ever whole: the spool is a ``FilesystemStore``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from gomodproxy.errors import StorageError
from gomodproxy.storage.base import BlobInfo, BlobStore
from gomodproxy.storage.filesystem import FilesystemStore

log = logging.getLogger("gomodproxy.storage")
T = TypeVar("T")


class DegradingStore:
    """A remote store that degrades to a local spool while it is unreachable."""

    def __init__(
        self,
        remote: BlobStore,
        *,
        retry_after: float = 2.0,
        spool_bytes: int = 2 * 1024**3,
        spool_dir: Path | None = None,
    ) -> None:
        self.remote = remote
        self.kind = remote.kind
        self.retry_after = retry_after
        self.spool_bytes = spool_bytes
        self._spool_root = Path(tempfile.mkdtemp(prefix="gomodproxy-spool-", dir=spool_dir))
        self.spool = FilesystemStore(self._spool_root)
        self._spooled: OrderedDict[str, int] = OrderedDict()
        #: True while the remote is failing; then reads miss and writes are spooled.
        self.degraded = False
        self.last_error = ""
        self._down_until = 0.0
        self._flush: asyncio.Task[None] | None = None

    def status(self) -> dict[str, Any]:
        return {
            "storage": self.kind,
            "degraded": self.degraded,
            "last_error": self.last_error if self.degraded else "",
            "spooled": len(self._spooled),
        }

    # -- remote calls with the circuit breaker ------------------------------------------------

    async def _remote(self, call: Callable[[], Awaitable[T]], on_down: T) -> T:
        if self.degraded and time.monotonic() < self._down_until:
            return on_down
        try:
            result = await call()
        except StorageError as exc:
            self._down(exc)
            return on_down
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

    def _up(self) -> None:
        self.degraded = False
        log.warning(
            "%s storage is back; %d spooled artifacts to store", self.kind, len(self._spooled)
        )
        if self._spooled and (self._flush is None or self._flush.done()):
            self._flush = asyncio.get_running_loop().create_task(self._flush_spool())

    async def _flush_spool(self) -> None:
        for key in list(self._spooled):
            info = await self.spool.stat(key)
            if info is None or info.local_path is None:
                self._spooled.pop(key, None)
                continue
            try:
                await self.remote.put_file(key, info.local_path)
            except StorageError as exc:
                self._down(exc)
                return
            self._spooled.pop(key, None)
            await self.spool.delete(key)

    # -- BlobStore ----------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        if key in self._spooled:
            return await self.spool.get(key)
        return await self._remote(lambda: self.remote.get(key), None)

    async def stat(self, key: str) -> BlobInfo | None:
        if key in self._spooled:
            return await self.spool.stat(key)
        return await self._remote(lambda: self.remote.stat(key), None)

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        store = self.spool if key in self._spooled else self.remote
        async for chunk in store.stream(key, start, end):
            yield chunk

    async def put(self, key: str, data: bytes) -> None:
        async def remote() -> bool:
            await self.remote.put(key, data)
            return True

        if not await self._remote(remote, False):
            await self.spool.put(key, data)
            self._spooled_add(key, len(data))

    async def put_file(self, key: str, src: Path) -> None:
        async def remote() -> bool:
            await self.remote.put_file(key, src)
            return True

        if not await self._remote(remote, False):
            size = src.stat().st_size
            await self.spool.put_file(key, src)
            self._spooled_add(key, size)

    def _spooled_add(self, key: str, size: int) -> None:
        log.warning("%s storage down: %s served without being stored", self.kind, key)
        self._spooled[key] = size
        self._spooled.move_to_end(key)
        while sum(self._spooled.values()) > self.spool_bytes and len(self._spooled) > 1:
            old, _ = self._spooled.popitem(last=False)
            with contextlib.suppress(OSError):
                (self._spool_root / old).unlink()

    async def delete(self, key: str) -> bool:
        spooled = self._spooled.pop(key, None) is not None
        if spooled:
            await self.spool.delete(key)
        return await self.remote.delete(key) or spooled

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        seen = set()
        for key in list(self._spooled):
            if key.startswith(prefix):
                seen.add(key)
                yield key
        async for key in self.remote.list(prefix):
            if key not in seen:
                yield key

    async def aclose(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            with contextlib.suppress(BaseException):
                await self._flush
        await self.remote.aclose()
        shutil.rmtree(self._spool_root, ignore_errors=True)
