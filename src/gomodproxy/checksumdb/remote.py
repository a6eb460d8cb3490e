"""Reaching a checksum database over HTTP, the way the go command does
(cmd/go/internal/modfetch/sumdb.go ``dbDial`` and ``initBase``).

The base URL is chosen lazily, on the first read: the URL written after the key in GOSUMDB
if there is one; otherwise the GOPROXY list is walked: ``direct`` or ``off`` mean
``https://<name>``; a proxy URL is asked ``<proxy>/sumdb/<name>/supported`` — 200 means all
traffic for the database goes through that proxy, 404/410 mean try the next entry, anything
else is an error unless the entry was followed by ``|``. If every proxy declines, the
database is reached directly.
"""

from __future__ import annotations

import asyncio

import httpx

from gomodproxy.config.settings import UpstreamSettings
from gomodproxy.errors import InvalidInput, NotFound, UpstreamError, UpstreamTimeout
from gomodproxy.gomod.proxylist import DIRECT, NOPROXY, OFF, parse_goproxy
from gomodproxy.gomod.sumdbenv import SumDB

#: Lookup bodies are a few hundred bytes, tiles at most 8 KiB; anything far larger is garbage.
MAX_BODY = 1 << 20
#: Requests in flight to the database at once, and the connections kept open for them. A
#: cold fill starts hundreds of lookups and tile reads together; queued in httpcore's pool,
#: each arrival and completion scans every queued request against every connection (the
#: fill's largest CPU cost once), and a burst past the kept connections costs a TLS handshake
#: each. Waiting here is O(1), and a few warm connections carry the small bodies as fast.
MAX_IN_FLIGHT = 8


class RemoteResponse:
    """A response passed through verbatim: status, content type and body."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body


class SumdbRemote:
    """HTTP access to one checksum database."""

    def __init__(
        self,
        db: SumDB,
        goproxy: str = DIRECT,
        gonoproxy: str = "",
        *,
        timeout: float = UpstreamSettings.upstream_timeout,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.db = db
        self.goproxy = goproxy
        self.gonoproxy = gonoproxy
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            trust_env=True,
            limits=httpx.Limits(
                max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT
            ),
        )
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.timeout = timeout
        self._owns_client = client is None
        self._base: str | None = None
        self._base_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.db.name

    async def base_url(self) -> str:
        """The URL the database's endpoints hang off (``…/latest``, ``…/lookup/…``).

        Raises:
            UpstreamError: a proxy in the list failed the ``supported`` probe.
        """
        if self._base is not None:
            return self._base
        async with self._base_lock:
            if self._base is None:
                self._base = await self._find_base()
        return self._base

    async def _find_base(self) -> str:
        if self.db.url:
            return self.db.url.rstrip("/")
        try:
            specs = parse_goproxy(self.goproxy or DIRECT, self.gonoproxy)
        except InvalidInput as exc:
            raise UpstreamError(f"GOPROXY: {exc}", source=self.name) from exc
        for spec in specs:
            if spec.url == NOPROXY:
                continue
            if spec.url in (DIRECT, OFF):
                break
            if spec.url.startswith("file:"):
                continue
            probe = f"{spec.url.rstrip('/')}/sumdb/{self.name}/supported"
            try:
                resp = await self._get(probe)
            except UpstreamError:
                if spec.fallback_on_error:
                    continue
                raise
            if resp.status == 200:
                return f"{spec.url.rstrip('/')}/sumdb/{self.name}"
            if resp.status in (404, 410) or spec.fallback_on_error:
                continue
            raise UpstreamError(f"reading {probe}: {resp.status}", source=self.name)
        return self.db.direct_url

    async def _get(self, url: str) -> RemoteResponse:
        """One whole answer within ``timeout`` once one of the request slots is ours, and a
        slot within ``timeout`` too. httpx's timeouts bound each read, not the response, so a
        database that trickles its bytes would otherwise hold a slot (and everything queued
        behind it) for as long as it likes."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._in_flight.acquire()
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"reading {url}: no free connection within {self.timeout:g} s", source=self.name
            ) from exc
        try:
            async with asyncio.timeout(self.timeout), self._client.stream("GET", url) as r:
                body = b""
                async for chunk in r.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise UpstreamError(f"reading {url}: response too large", source=self.name)
                return RemoteResponse(r.status_code, r.headers.get("content-type", ""), body)
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"reading {url}: no complete answer within {self.timeout:g} s", source=self.name
            ) from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"reading {url}: timed out", source=self.name) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"reading {url}: {exc}", source=self.name) from exc
        finally:
            self._in_flight.release()

    async def fetch(self, endpoint: str) -> RemoteResponse:
        """GET ``<base>/<endpoint>`` whatever the status (for verbatim passthrough).

        Raises:
            UpstreamError: the database could not be reached.
        """
        return await self._get(f"{await self.base_url()}/{endpoint.lstrip('/')}")

    async def read(self, endpoint: str) -> bytes:
        """The body of ``<base>/<endpoint>`` if the status is 200.

        Raises:
            NotFound: 404 or 410.
            UpstreamError: any other status, or the database could not be reached.
        """
        resp = await self.fetch(endpoint)
        if resp.status == 200:
            return resp.body
        url = f"{await self.base_url()}/{endpoint.lstrip('/')}"
        text = resp.body[:300].decode("utf-8", "replace").strip()
        msg = f"reading {url}: {resp.status}" + (f"\n\tserver response: {text}" if text else "")
        if resp.status in (404, 410):
            raise NotFound(msg, gone=resp.status == 410)
        raise UpstreamError(msg, source=self.name, status=resp.status)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
