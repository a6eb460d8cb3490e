"""Watching storage: a ``BlobStore`` wrapper that adds one to
``gomodproxy_storage_errors_total{backend, op}`` for every ``StorageError`` the service sees
and records the duration of each ``get``, ``stat``, ``put``, ``put_file`` and ``delete`` in
``gomodproxy_storage_operation_duration_seconds{backend, op}`` (streams and listings are as
long as their reader makes them, so they are not timed).

Installed around ``ProxyService.store`` by ``gomodproxy.ops.routes``; every other attribute
(``degraded``, ``root``, ``status()`` …) is the wrapped store's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gomodproxy.errors import StorageError
from gomodproxy.ports.storage import BlobInfo, BlobStore

METRIC = "gomodproxy_storage_errors_total"
HELP = "Storage backend operations that failed, by backend and operation."
DURATION = "gomodproxy_storage_operation_duration_seconds"
DURATION_HELP = "Time of one storage operation, by backend and operation."
OPS = ("get", "stat", "stream", "put", "put_file", "delete", "list")


class CountingStore:
    """A ``BlobStore`` that counts the ``StorageError`` s of the one it wraps."""

    def __init__(self, inner: BlobStore, metrics: Any) -> None:
        self.inner = inner
        self.kind = inner.kind
        #: Whether the wrapped store can degrade (a remote registry or bucket behind a spool).
        self.can_degrade = hasattr(inner, "degraded")
        self.metrics = metrics
        for op in OPS:  # zero series from start-up: rate() and alerts work at once
            metrics.inc(METRIC, HELP, {"backend": self.kind, "op": op}, 0)

    @property
    def root(self) -> Path | None:
        """The directory of a filesystem store (the status page measures it)."""
        root = getattr(self.inner, "root", None)
        return root if isinstance(root, Path) else None

    @property
    def degraded(self) -> bool:
        """Whether the wrapped store is bypassed while its backend is down."""
        return bool(getattr(self.inner, "degraded", False))

    def _count(self, op: str) -> None:
        self.metrics.inc(METRIC, HELP, {"backend": self.kind, "op": op})

    def _time(self, op: str, start: float) -> None:
        observe = getattr(self.metrics, "observe", None)
        if observe is not None:
            labels = (("backend", self.kind), ("op", op))
            observe(DURATION, DURATION_HELP, labels, time.perf_counter() - start)

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
