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
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TypeVar

from gomodproxy.errors import StorageError
from gomodproxy.ops.metrics import Metrics
from gomodproxy.ports.storage import BlobInfo, BlobStore

T = TypeVar("T")

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

    async def _timed(self, op: str, call: Awaitable[T]) -> T:
        """Await one operation of the wrapped store: count its ``StorageError``, time it."""
        start = time.perf_counter()
        try:
            return await call
        except StorageError:
            self._count(op)
            raise
        finally:
            labels = (("backend", self.kind), ("op", op))
            self.metrics.observe(DURATION, DURATION_HELP, labels, time.perf_counter() - start)

    async def get(self, key: str) -> bytes | None:
        return await self._timed("get", self.inner.get(key))

    async def stat(self, key: str) -> BlobInfo | None:
        return await self._timed("stat", self.inner.stat(key))

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
        await self._timed("put", self.inner.put(key, data))

    async def put_file(self, key: str, src: Path) -> None:
        await self._timed("put_file", self.inner.put_file(key, src))

    async def delete(self, key: str) -> bool:
        return await self._timed("delete", self.inner.delete(key))

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        try:
            async for key in self.inner.list(prefix):
                yield key
        except StorageError:
            self._count("list")
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()
