"""The GOPROXY list as the go command walks it (cmd/go/internal/modfetch/proxy.go TryProxies).

Each request walks the entries in order and stops at the first success. After an entry
followed by ``,`` only "not found" (404/410) falls through; after ``|`` any error does.
``off`` answers "module lookup disabled by GOPROXY=off" (a not-found); ``direct`` is the
direct VCS source. When every entry failed, the most helpful error is raised: one from
``direct`` first, then a proxy error other than not-found, then a not-found.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gomodproxy.errors import GoModProxyError, InvalidInput, NotFound
from gomodproxy.ports.source import SingleSource, Source

T = TypeVar("T")

OFF_MESSAGE = "module lookup disabled by GOPROXY=off"


@dataclass(frozen=True)
class ChainEntry:
    """One element of the list: a source (None for ``off``) and its fallback mode."""

    source: Source | None
    fall_back_on_error: bool
    #: True for ``direct``: its errors are the most helpful ones.
    direct: bool = False


class ProxyChain(SingleSource):
    """A ``Source`` that walks a GOPROXY list."""

    def __init__(self, entries: list[ChainEntry]) -> None:
        if not entries:
            raise InvalidInput("GOPROXY list is not the empty string, but contains no entries")
        self.entries = entries
        #: The entries' names: ``proxy:host:port,direct`` (logs and metrics).
        self.name = ",".join(e.source.name if e.source else "off" for e in entries)

    async def _walk(self, op: Callable[[Source], Awaitable[T]]) -> T:
        best: GoModProxyError | None = None
        best_rank = 0  # 0 not-exist, 1 proxy error, 2 direct error
        for entry in self.entries:
            if entry.source is None:
                err: GoModProxyError = NotFound(OFF_MESSAGE)
            else:
                try:
                    return await op(entry.source)
                except GoModProxyError as exc:
                    err = exc
            not_exist = isinstance(err, NotFound)
            if entry.direct:
                best, best_rank = err, 2
            elif best_rank <= 1 and not not_exist:
                best, best_rank = err, 1
            elif best_rank == 0:
                best = err
            if not entry.fall_back_on_error and not not_exist:
                break
        assert best is not None
        raise best

    async def list(self, path: str) -> bytes:
        return await self._walk(lambda s: s.list(path))

    async def info(self, path: str, query: str) -> bytes:
        return await self._walk(lambda s: s.info(path, query))

    async def latest(self, path: str) -> bytes:
        return await self._walk(lambda s: s.latest(path))

    async def mod(self, path: str, version: str) -> bytes:
        return await self._walk(lambda s: s.mod(path, version))

    async def zip(self, path: str, version: str, dest: Path) -> None:
        async def one(s: Source) -> None:
            dest.unlink(missing_ok=True)
            await s.zip(path, version, dest)

        await self._walk(one)

    async def aclose(self) -> None:
        seen: set[int] = set()
        for entry in self.entries:
            if entry.source is not None and id(entry.source) not in seen:
                seen.add(id(entry.source))
                await entry.source.aclose()
