"""Build the proxy's source from its settings, routing private modules to the direct source.

As in the go command (cmd/go/internal/modfetch/repo.go lookup): a module path matching
GONOPROXY (default GOPRIVATE) is fetched directly and never from a proxy, whatever GOPROXY
says; every other path walks the GOPROXY list, where a ``direct`` entry is the direct source.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gomodproxy.config.settings import UpstreamSettings
from gomodproxy.errors import NotFound
from gomodproxy.gomod.globs import match_prefix_patterns
from gomodproxy.gomod.proxylist import parse_goproxy
from gomodproxy.ports.source import SingleSource, Source
from gomodproxy.sources.chain import ChainEntry, ProxyChain
from gomodproxy.sources.proxy import open_proxy

DIRECT_UNAVAILABLE = "direct mode not available in this build of gomodproxy"


class UnavailableDirect(SingleSource):
    """Stands in for the direct VCS source until it exists: everything is not found."""

    name = "direct"

    def _fail(self, path: str) -> NotFound:
        return NotFound(f"not found: {path}: {DIRECT_UNAVAILABLE}")

    async def list(self, path: str) -> bytes:
        raise self._fail(path)

    async def info(self, path: str, query: str) -> bytes:
        raise self._fail(path)

    async def latest(self, path: str) -> bytes:
        raise self._fail(path)

    async def mod(self, path: str, version: str) -> bytes:
        raise self._fail(path)

    async def zip(self, path: str, version: str, dest: Path) -> None:
        raise self._fail(path)

    async def aclose(self) -> None:
        return None


def direct_source(upstream: UpstreamSettings) -> Source:
    """The direct VCS source (``gomodproxy.sources.direct``), or a stand-in answering 404
    in a build without it. Imported on first use: most proxies never go direct."""
    try:
        from gomodproxy.sources.direct.source import from_settings
    except ImportError:
        return UnavailableDirect()
    return from_settings(upstream)


class Router:
    """A ``Source``: GONOPROXY matches go to ``direct``, everything else to ``chain``."""

    def __init__(self, chain: Source, direct: Source, gonoproxy: str) -> None:
        self.chain = chain
        self.direct = direct
        self.gonoproxy = gonoproxy
        self.name = chain.name

    def pick(self, path: str) -> Source:
        if self.gonoproxy and match_prefix_patterns(self.gonoproxy, path):
            return self.direct
        return self.chain

    def label(self, path: str) -> str:
        """The name of the source ``path`` goes to (logs and metrics)."""
        return self.pick(path).name

    async def list(self, path: str) -> bytes:
        return await self.pick(path).list(path)

    async def info(self, path: str, query: str) -> bytes:
        return await self.pick(path).info(path, query)

    async def latest(self, path: str) -> bytes:
        return await self.pick(path).latest(path)

    async def mod(self, path: str, version: str) -> bytes:
        return await self.pick(path).mod(path, version)

    async def zip(self, path: str, version: str, dest: Path) -> None:
        await self.pick(path).zip(path, version, dest)

    async def aclose(self) -> None:
        await self.chain.aclose()
        if self.direct is not self.chain:
            await self.direct.aclose()


def build_source(upstream: UpstreamSettings) -> Router:
    """The whole upstream side: GOPROXY chain plus GONOPROXY routing.

    Raises:
        InvalidInput: GOPROXY cannot be parsed.
    """
    direct: Source | None = None

    def get_direct() -> Source:
        nonlocal direct
        if direct is None:
            direct = direct_source(upstream)
        return direct

    entries: list[ChainEntry] = []
    for spec in parse_goproxy(upstream.goproxy):
        url, fallback = spec.url, spec.fallback_on_error
        if url == "off":
            entries.append(ChainEntry(None, fallback))
        elif url == "direct":
            entries.append(ChainEntry(get_direct(), fallback, direct=True))
        else:
            source = open_proxy(
                url,
                timeout=upstream.upstream_timeout,
                fetch_timeout=upstream.fetch_timeout,
                max_zip_bytes=upstream.max_zip_bytes,
            )
            entries.append(ChainEntry(source, fallback))
    return route_private(upstream, ProxyChain(entries), get_direct)


def route_private(
    upstream: UpstreamSettings, chain: Source, get_direct: Callable[[], Source] | None = None
) -> Router:
    """``chain`` for public paths; GONOPROXY matches go direct, even when ``chain`` is the
    offline store, so private repositories inside an air gap stay reachable."""
    if not upstream.gonoproxy:
        return Router(chain, UnavailableDirect(), "")
    direct = get_direct() if get_direct is not None else direct_source(upstream)
    return Router(chain, direct, upstream.gonoproxy)
