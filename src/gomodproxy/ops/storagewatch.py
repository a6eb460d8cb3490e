"""Watching storage: a ``BlobStore`` wrapper that adds one to
``gomodproxy_storage_errors_total{backend, op}`` for every ``StorageError`` the service sees
and records the duration of each ``get``, ``stat``, ``put``, ``put_file`` and ``delete`` in
``gomodproxy_storage_operation_duration_seconds{backend, op}`` (streams and listings are as
long as their reader makes them, so they are not timed).

Built around the store by ``gomodproxy.compose.build_app``. The store's declared
capabilities (``root``, ``can_degrade``, ``degraded``, ``check``) are the wrapped store's,
forwarded one by one; it has no other attribute of the wrapped store.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

from gomodproxy.errors import StorageError
from gomodproxy.ops.metrics import Metrics
from gomodproxy.ports.storage import BlobInfo, BlobStore

METRIC = "gomodproxy_storage_errors_total"
HELP = "Storage backend operations that failed, by backend and operation."
DURATION = "gomodproxy_storage_operation_duration_seconds"
DURATION_HELP = "Time of one storage operation, by backend and operation."
OPS = ("get", "stat", "stream", "put", "put_file", "delete", "list")


class CountingStore:
    """A ``BlobStore`` that counts the ``StorageError`` s of the one it wraps."""

    def __init__(self, inner: BlobStore, metrics: Metrics) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.metrics = metrics
        for op in OPS:  # zero series from start-up: rate() and alerts work at once
            metrics.inc(METRIC, HELP, {"backend": self.kind, "op": op}, 0)

    @property
    def root(self) -> Path | None:
        return self.inner.root

    @property
    def can_degrade(self) -> bool:
        return self.inner.can_degrade

    @property
    def degraded(self) -> bool:
        return self.inner.degraded

    async def check(self) -> None:
        await self.inner.check()

    def _count(self, op: str) -> None:
        self.metrics.inc(METRIC, HELP, {"backend": self.kind, "op": op})

    def _time(self, op: str, start: float) -> None:
        labels = (("backend", self.kind), ("op", op))
        self.metrics.observe(DURATION, DURATION_HELP, labels, time.perf_counter() - start)

    async def get(self, key: str) -> bytes | None:
        start = time.perf_counter()
        try:
            return await self.inner.get(key)
        except StorageError:
            self._count("get")
            raise
        finally:
            self._time("get", start)

    async def stat(self, key: str) -> BlobInfo | None:
        start = time.perf_counter()
        try:
            return await self.inner.stat(key)
        except StorageError:
            self._count("stat")
            raise
        finally:
            self._time("stat", start)

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.inner.stream(key, start, end):
                yield chunk
        except StorageError:
            self._count("stream")
            raise

    async def put(self, key: str, data: bytes) -> None:
        start = time.perf_counter()
        try:
            await self.inner.put(key, data)
        except StorageError:
            self._count("put")
            raise
        finally:
            self._time("put", start)

    async def put_file(self, key: str, src: Path) -> None:
        start = time.perf_counter()
        try:
            await self.inner.put_file(key, src)
        except StorageError:
            self._count("put_file")
            raise
        finally:
            self._time("put_file", start)

    async def delete(self, key: str) -> bool:
        start = time.perf_counter()
        try:
            return await self.inner.delete(key)
        except StorageError:
            self._count("delete")
            raise
        finally:
            self._time("delete", start)

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        try:
            async for key in self.inner.list(prefix):
                yield key
        except StorageError:
            self._count("list")
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()
