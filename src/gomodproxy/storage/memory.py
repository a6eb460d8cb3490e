"""A BlobStore held in process memory: for tests, ``mod download`` without a cache and
development. Values are immutable ``bytes`` replaced whole, which makes every put atomic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from gomodproxy.errors import NotFound
from gomodproxy.ports.keys import check_key, check_prefix
from gomodproxy.ports.storage import BlobInfo, StandaloneStore

CHUNK = 256 * 1024


class MemoryStore(StandaloneStore):
    """Key → bytes in a dict."""

    kind = "memory"

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, float]] = {}

    async def get(self, key: str) -> bytes | None:
        check_key(key)
        item = self._data.get(key)
        return None if item is None else item[0]

    async def stat(self, key: str) -> BlobInfo | None:
        check_key(key)
        item = self._data.get(key)
        return None if item is None else BlobInfo(size=len(item[0]), mtime=item[1])

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        check_key(key)
        item = self._data.get(key)
        if item is None:
            raise NotFound(f"{key}: not stored")
        view = memoryview(item[0])[start:end]
        for off in range(0, len(view), CHUNK):
            yield bytes(view[off : off + CHUNK])

    async def put(self, key: str, data: bytes) -> None:
        check_key(key)
        self._data[key] = (bytes(data), time.time())

    async def put_file(self, key: str, src: Path) -> None:
        check_key(key)
        data = await asyncio.to_thread(src.read_bytes)
        self._data[key] = (data, time.time())

    async def delete(self, key: str) -> bool:
        check_key(key)
        return self._data.pop(key, None) is not None

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        check_prefix(prefix)
        for key in [k for k in self._data if k.startswith(prefix)]:
            yield key

    async def aclose(self) -> None:
        return None
