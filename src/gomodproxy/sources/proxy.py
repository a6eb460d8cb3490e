"""Upstream GOPROXY clients: an HTTP(S) proxy over httpx, and a ``file://`` tree on disk.

Both speak the protocol of go.dev/ref/mod#goproxy-protocol as the go command's own client does
(cmd/go/internal/modfetch/proxy.go): paths and versions are case-escaped (``!x``) and then
percent-encoded; 404 and 410 mean "not here" (``NotFound``, so a ``,`` chain falls through);
any other status, a timeout, a refused connection or a body too large is ``UpstreamError``.

HTTP details that match the go command: redirects are followed up to 10 times and never
from https to http; ``.netrc`` credentials (``$NETRC`` or ``~/.netrc``) are sent over https
only, and only to the host they name; user-info in the proxy URL is used as basic auth;
``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` are honoured (httpx ``trust_env``).
"""

from __future__ import annotations

import asyncio
import netrc
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx

from gomodproxy.config.settings import UpstreamSettings
from gomodproxy.errors import InvalidInput, NotFound, UpstreamError, UpstreamTimeout
from gomodproxy.ports.keys import artifact_key
from gomodproxy.ports.source import SingleSource
from gomodproxy.sources.bounded import ACCEPT_ENCODING, TooLarge, bounded_chunks
from gomodproxy.sources.netguard import NetGuard
from gomodproxy.sources.retry import Retrier, TransientUpstreamError

#: Redirect hops of any upstream proxy: never to link-local addresses (cloud metadata).
_REDIRECT_GUARD = NetGuard(only=frozenset({"link-local"}))
#: The go command refuses zips over 500 MiB and go.mod files over 16 MiB (x/mod/zip).
MAX_ZIP_BYTES = UpstreamSettings.max_zip_bytes
MAX_META_BYTES = 16 << 20
#: ``.info`` and ``@latest`` are a few hundred bytes of JSON (Version, Time, Origin); a bound
#: far above that keeps a hostile one from costing a 16 MiB parse.
MAX_INFO_BYTES = 64 << 10
MAX_REDIRECTS = 10
_WRITE_BATCH = 1 << 20
#: Characters Go's url.PathEscape leaves alone, besides letters and digits ("/" kept too).
_PATH_SAFE = "/-._~+@=&$:,;"


def artifact_path(path: str, kind: str, version: str = "") -> str:
    """The escaped relative path of an artifact (``list``, ``latest``, ``info``, ``mod``, ``zip``).

    Raises:
        InvalidInput: the path or version cannot be escaped (upper-case-free ASCII rules).
    """
    return artifact_key(kind, path, version)


def reason_from_body(body: bytes, fallback: str) -> str:
    """The first line of an upstream's text error, if printable and short; else ``fallback``."""
    try:
        text = body[:1024].decode("utf-8").strip().splitlines()[0].strip()
    except (UnicodeDecodeError, IndexError):
        return fallback
    if not text or not text.isprintable():
        return fallback
    return text[:512]


def load_netrc(env: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Host → (login, password) from ``$NETRC`` or ``~/.netrc``; empty when absent or broken."""
    env = os.environ if env is None else env
    name = env.get("NETRC") or str(Path(env.get("HOME") or Path.home()) / ".netrc")
    try:
        parsed = netrc.netrc(name)
    except (OSError, netrc.NetrcParseError):
        return {}
    out: dict[str, tuple[str, str]] = {}
    for host, (login, _account, password) in parsed.hosts.items():
        out[host] = (login or "", password or "")
    return out


class _SmallReads(SingleSource):
    """``list``, ``info``, ``latest`` and ``mod``: one bounded read of an escaped path each."""

    async def _read(self, rel: str, limit: int = MAX_META_BYTES) -> bytes:
        raise NotImplementedError

    async def list(self, path: str) -> bytes:
        return await self._read(artifact_path(path, "list"))

    async def info(self, path: str, query: str) -> bytes:
        return await self._read(artifact_path(path, "info", query), MAX_INFO_BYTES)

    async def latest(self, path: str) -> bytes:
        return await self._read(artifact_path(path, "latest"), MAX_INFO_BYTES)

    async def mod(self, path: str, version: str) -> bytes:
        return await self._read(artifact_path(path, "mod", version))


class HTTPProxySource(_SmallReads):
    """A GOPROXY reachable over http or https."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = UpstreamSettings.upstream_timeout,
        fetch_timeout: float = UpstreamSettings.fetch_timeout,
        max_zip_bytes: int = MAX_ZIP_BYTES,
        client: httpx.AsyncClient | None = None,
        netrc_hosts: Mapping[str, tuple[str, str]] | None = None,
        url_check: Callable[[str, str], Awaitable[object]] | None = None,
        retrier: Retrier | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        #: Called with (url, what) before every request and redirect hop; raises to refuse
        #: (direct mode's address guard for GOPROXY servers named by go-get meta tags).
        self.url_check = url_check
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"invalid proxy URL {base_url!r}")
        self.base = base_url.rstrip("/")
        self.name = f"proxy:{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self.retrier = retrier or Retrier(self.name)
        self.timeout = timeout
        self.fetch_timeout = fetch_timeout
        self.max_zip_bytes = max_zip_bytes
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=True,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"User-Agent": "gomodproxy", "Accept-Encoding": ACCEPT_ENCODING},
        )
        self._netrc = dict(load_netrc() if netrc_hosts is None else netrc_hosts)

    def __repr__(self) -> str:
        return f"HTTPProxySource({self.base!r})"

    def _auth_headers(self, url: httpx.URL, original_host: str) -> dict[str, str]:
        # As the go command: .netrc credentials go over https only, to the host they name, and
        # never along a redirect to another host.
        if url.scheme != "https" or url.userinfo or url.host != original_host:
            return {}
        creds = self._netrc.get(url.host)
        if creds is None:
            return {}
        return {"Authorization": httpx.BasicAuth(*creds)._auth_header}

    @asynccontextmanager
    async def _open(
        self, rel: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """GET ``base/rel`` following redirects by the go command's rules; yield a 200 (or,
        when ``headers`` ask for a range, 206) response.

        Raises:
            NotFound: 404 or 410.
            TransientUpstreamError: a transport error (mid-body too), a 5xx or 429.
            UpstreamError: any other status or a refused redirect.
        """
        url = httpx.URL(self.base + "/" + quote(rel, safe=_PATH_SAFE))
        host = url.host
        try:
            for _ in range(MAX_REDIRECTS + 1):
                if self.url_check is not None:
                    await self.url_check(str(url), self.name)
                request = self._client.build_request(
                    "GET", url, headers={**self._auth_headers(url, host), **(headers or {})}
                )
                response = await self._client.send(request, stream=True)
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    await response.aclose()
                    target = url.join(location)
                    if url.scheme == "https" and target.scheme != "https":
                        raise UpstreamError(
                            f"{self.name}: redirect from {url} to {target} refused (https to http)",
                            source=self.name,
                        )
                    if target.userinfo and target.host != url.host:
                        target = target.copy_with(username=None, password=None)
                    # An upstream may not redirect us to cloud metadata (link-local).
                    await _REDIRECT_GUARD.check_url(str(target), f"{self.name}: redirect to")
                    url = target
                    continue
                try:
                    if response.status_code != 200 and not (
                        response.status_code == 206 and headers and "Range" in headers
                    ):
                        body = await response.aread()
                        self._raise_for_status(response.status_code, body, rel)
                    yield response
                finally:
                    await response.aclose()
                return
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"{self.name}: timed out fetching {rel}", source=self.name
            ) from exc
        except httpx.TransportError as exc:
            raise TransientUpstreamError(
                f"{self.name}: {type(exc).__name__} fetching {rel}: {exc}",
                source=self.name,
                reason="transport",
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"{self.name}: {type(exc).__name__} fetching {rel}: {exc}", source=self.name
            ) from exc
        raise UpstreamError(
            f"{self.name}: stopped after {MAX_REDIRECTS} redirects", source=self.name
        )

    def _raise_for_status(self, status: int, body: bytes, rel: str) -> None:
        if status in (404, 410):
            reason = reason_from_body(body, f"not found: {unquote(rel)}")
            raise NotFound(reason, gone=status == 410)
        reason = reason_from_body(body, "")
        message = f"{self.name}: {rel}: status {status}" + (f": {reason}" if reason else "")
        if status >= 500 or status == 429:
            raise TransientUpstreamError(
                message, source=self.name, status=status, reason=f"status_{status}"
            )
        raise UpstreamError(message, source=self.name, status=status)

    async def _read(self, rel: str, limit: int = MAX_META_BYTES) -> bytes:
        return await self.retrier.run(lambda _n: self._read_once(rel, limit), rel)

    async def _read_once(self, rel: str, limit: int) -> bytes:
        try:
            async with asyncio.timeout(self.timeout * 2):
                async with self._open(rel) as response:
                    chunks: list[bytes] = []
                    what = f"{self.name}: {rel}"
                    async for chunk in bounded_chunks(response, limit, what):
                        chunks.append(chunk)
                    return b"".join(chunks)
        except TimeoutError as exc:
            if isinstance(exc, UpstreamError):
                raise
            raise UpstreamTimeout(
                f"{self.name}: timed out fetching {rel}", source=self.name
            ) from exc

    async def zip(self, path: str, version: str, dest: Path) -> None:
        rel = artifact_path(path, "zip", version)
        try:
            async with asyncio.timeout(self.fetch_timeout):
                await self.retrier.run(
                    lambda n: self._zip_once(rel, dest, resume=n > 0), rel, self.fetch_timeout
                )
        except UpstreamError:
            raise
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"{self.name}: timed out fetching {rel}", source=self.name
            ) from exc

    async def _zip_once(self, rel: str, dest: Path, *, resume: bool) -> None:
        """One attempt at the zip. After a failed one, the bytes already in ``dest`` are kept
        (a client may be reading them, see ``livezip``): the rest is asked for with a range,
        or, if the upstream sends the whole zip again, its start must equal them."""
        have = dest.stat().st_size if resume and dest.exists() else 0
        # A range of the identity encoding: offsets in a compressed body are not ours.
        ranged = {"Range": f"bytes={have}-", "Accept-Encoding": "identity"} if have else None
        async with self._open(rel, ranged) as response:
            declared = response.headers.get("content-length", "")
            if response.headers.get("content-encoding", "identity") != "identity":
                declared = ""  # the length of the encoded body, not of the zip
            skip = have
            if response.status_code == 206:
                encoded = response.headers.get("content-encoding", "identity") != "identity"
                m = re.fullmatch(
                    r"bytes (\d+)-\d+/(\d+)", response.headers.get("content-range", "")
                )
                if encoded or m is None or int(m[1]) != have:
                    raise UpstreamError(
                        f"{self.name}: {rel}: answered bytes={have}- with "
                        f"{response.headers.get('content-range', 'no Content-Range')!r}",
                        source=self.name,
                    )
                declared, skip = m[2], 0
            if declared.isdigit() and int(declared) > self.max_zip_bytes:
                raise UpstreamError(
                    f"{self.name}: {rel}: zip of {declared} bytes exceeds the limit "
                    f"of {self.max_zip_bytes}",
                    source=self.name,
                )
            chunks = bounded_chunks(response, self.max_zip_bytes, f"{self.name}: {rel}")
            try:
                await _stream_to_file(chunks, dest, self.max_zip_bytes, rel, have=have, skip=skip)
            except TooLarge:
                raise UpstreamError(
                    f"{rel}: zip exceeds the limit of {self.max_zip_bytes} bytes",
                    source=self.name,
                ) from None
            except _Changed:
                dest.unlink(missing_ok=True)  # start again in a new file: readers of this one fail
                raise TransientUpstreamError(
                    f"{self.name}: {rel}: sent different bytes when asked again",
                    source=self.name,
                    reason="changed",
                ) from None
            if declared.isdigit() and dest.stat().st_size != int(declared):
                raise TransientUpstreamError(
                    f"{self.name}: {rel}: truncated ({dest.stat().st_size} of {declared} bytes)",
                    source=self.name,
                    reason="truncated",
                )

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()


class _Changed(Exception):
    """A body sent again does not start with the bytes kept from the first time."""


async def _stream_to_file(
    chunks: AsyncIterator[bytes], dest: Path, limit: int, what: str, *, have: int = 0, skip: int = 0
) -> None:
    """Write chunks to ``dest`` in ~1 MiB batches off the event loop, refusing past ``limit``.

    With ``have``, ``dest`` already holds that many bytes and the chunks go after them; the
    first ``skip`` bytes of the chunks are not written but must equal the file's (``_Changed``).
    """
    size = have
    batch: list[bytes] = []
    batched = 0
    with dest.open("r+b" if have else "wb") as f:
        f.seek(have)
        try:
            async for chunk in chunks:
                if skip:
                    head, chunk = chunk[:skip], chunk[skip:]
                    at = have - skip
                    if await asyncio.to_thread(os.pread, f.fileno(), len(head), at) != head:
                        raise _Changed
                    skip -= len(head)
                    if not chunk:
                        continue
                size += len(chunk)
                if size > limit:
                    raise UpstreamError(f"{what}: zip exceeds the limit of {limit} bytes")
                batch.append(chunk)
                batched += len(chunk)
                if batched >= _WRITE_BATCH:
                    await asyncio.to_thread(f.write, b"".join(batch))
                    batch, batched = [], 0
        except Exception:
            # Cut off (a transport error): keep what arrived, so a retry asks for the rest.
            f.write(b"".join(batch))
            raise
        if batch:
            await asyncio.to_thread(f.write, b"".join(batch))


class FileProxySource(_SmallReads):
    """A ``file://`` GOPROXY: a directory tree; a missing file is 404, as for the go command."""

    def __init__(self, root: str | Path, *, max_zip_bytes: int = MAX_ZIP_BYTES) -> None:
        self.root = Path(root)
        self.name = "file"
        self.max_zip_bytes = max_zip_bytes

    def __repr__(self) -> str:
        return f"FileProxySource({str(self.root)!r})"

    def _file(self, rel: str) -> Path:
        return self.root / rel

    async def _read(self, rel: str, limit: int = MAX_META_BYTES) -> bytes:
        path = self._file(rel)
        try:
            data = await asyncio.to_thread(_read_limited, path, limit)
        except FileNotFoundError:
            raise NotFound(f"not found: {rel}") from None
        except NotADirectoryError:
            raise NotFound(f"not found: {rel}") from None
        except OSError as exc:
            raise UpstreamError(f"file: {rel}: {exc.strerror or exc}", source=self.name) from exc
        if data is None:
            raise UpstreamError(f"file: {rel} is larger than {limit} bytes", source=self.name)
        return data

    async def zip(self, path: str, version: str, dest: Path) -> None:
        rel = artifact_path(path, "zip", version)
        src = self._file(rel)
        try:
            await asyncio.to_thread(_copy_limited, src, dest, self.max_zip_bytes)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"not found: {rel}") from None
        except OverflowError:
            raise UpstreamError(
                f"file: {rel} exceeds the limit of {self.max_zip_bytes} bytes", source=self.name
            ) from None
        except OSError as exc:
            raise UpstreamError(f"file: {rel}: {exc.strerror or exc}", source=self.name) from exc

    async def aclose(self) -> None:
        return None


def _read_limited(path: Path, limit: int) -> bytes | None:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    return None if len(data) > limit else data


def _copy_limited(src: Path, dest: Path, limit: int) -> None:
    size = 0
    with src.open("rb") as fin, dest.open("wb") as fout:
        while chunk := fin.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise OverflowError
            fout.write(chunk)


def open_proxy(
    url: str,
    *,
    timeout: float = UpstreamSettings.upstream_timeout,
    fetch_timeout: float = UpstreamSettings.fetch_timeout,
    max_zip_bytes: int = MAX_ZIP_BYTES,
    client: httpx.AsyncClient | None = None,
) -> HTTPProxySource | FileProxySource:
    """The source for one GOPROXY URL entry (``https://``, ``http://`` or ``file://``).

    Raises:
        InvalidInput: an unsupported scheme.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FileProxySource(unquote(parts.path), max_zip_bytes=max_zip_bytes)
    if parts.scheme in ("http", "https"):
        return HTTPProxySource(
            url,
            timeout=timeout,
            fetch_timeout=fetch_timeout,
            max_zip_bytes=max_zip_bytes,
            client=client,
        )
    raise InvalidInput(f"invalid proxy URL {url!r}: scheme must be https, http or file")
