"""Hostile upstreams: each refused with a clear error and nothing stored.

A loopback HTTP server plays the attacker's upstream proxy and go-get host: an endless body,
a slow-loris body, zip bombs (declared and lying sizes), path-traversal entry names, and
redirects or meta tags naming the cloud metadata address or loopback. The proxy service is
built in-process from settings as ``serve`` builds it, so a tripwire on ``socket.connect``
proves no connection to a non-loopback address is ever attempted: the guard refuses first.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import io
import ipaddress
import socket
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.compose import build_service
from gomodproxy.config.settings import CacheSettings, ServerSettings, load_settings
from gomodproxy.errors import GoModProxyError, NotFound, UpstreamError
from gomodproxy.server.app import ProxyApp
from gomodproxy.service.proxy import ProxyService, Trace
from gomodproxy.service.requests import parse_request
from gomodproxy.sources.direct import DirectSource
from gomodproxy.sources.direct.discovery import Discovery
from tests.e2e.fixtures import LoopbackHTTP, QuietHandler
from tests.e2e.probe import LoopProbe

pytestmark = [pytest.mark.e2e]

MiB = 1 << 20
Behaviour = Callable[[http.server.BaseHTTPRequestHandler], None]


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, (2023, 1, 2, 3, 4, 6)), data)
    return buf.getvalue()


def _patch_sizes(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size of ``name`` in its local and central headers."""
    out = bytearray(data)
    encoded = name.encode()
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := out.find(sig, start)) >= 0:
            name_off = 30 if sig == b"PK\x03\x04" else 46
            name_len = struct.unpack_from("<H", out, i + (26 if name_off == 30 else 28))[0]
            if bytes(out[i + name_off : i + name_off + name_len]) == encoded:
                struct.pack_into("<I", out, i + offset, size)
            start = i + 4
    return bytes(out)


def declared_bomb() -> bytes:
    """An honest header saying 600 MiB: x/mod refuses by the declared size, before inflating."""
    data = _zip(
        {"bomb.test/m@v1.0.0/go.mod": b"module bomb.test/m\n", "bomb.test/m@v1.0.0/z": b"0"}
    )
    return _patch_sizes(data, "bomb.test/m@v1.0.0/z", 600 * MiB)


def lying_bomb() -> bytes:
    """16 MiB of zeros declared as 100 bytes: inflating stops at the declared size, CRC fails."""
    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = b"".join(zeros.compress(b"\0" * MiB) for _ in range(16)) + zeros.flush()
    info = zipfile.ZipInfo("bomb.test/m@v1.0.0/z", (2023, 1, 2, 3, 4, 6))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("bomb.test/m@v1.0.0/go.mod"), b"module bomb.test/m\n")
        zf.writestr(info, b"x" * 100)
    data = buf.getvalue()
    # Swap in the large deflate stream and keep the declared 100 bytes and the CRC of "x"*100.
    i = data.find(b"PK\x03\x04", data.find(b"bomb.test/m@v1.0.0/z") - 30)
    name_len, extra_len = struct.unpack_from("<HH", data, i + 26)
    start = i + 30 + name_len + extra_len
    old_size = struct.unpack_from("<I", data, i + 18)[0]
    head = bytearray(data[:start])
    struct.pack_into("<I", head, i + 18, len(deflated))
    rebuilt = bytes(head) + deflated + data[start + old_size :]
    # The central directory entry of z: its compressed size; then the directory's offset.
    fixed = bytearray(rebuilt)
    j = fixed.find(b"PK\x01\x02", fixed.find(b"PK\x01\x02") + 4)
    struct.pack_into("<I", fixed, j + 20, len(deflated))
    struct.pack_into("<I", fixed, fixed.find(b"PK\x05\x06") + 16, fixed.find(b"PK\x01\x02"))
    return bytes(fixed)


def traversal_zip() -> bytes:
    return _zip(
        {
            "evil.test/m@v1.0.0/go.mod": b"module evil.test/m\n",
            "evil.test/m@v1.0.0/../../../../tmp/owned": b"gotcha\n",
        }
    )


class Hostile(LoopbackHTTP):
    """A loopback server; ``routes`` maps a request path (or absolute URL) to a behaviour."""

    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.seen: list[str] = []
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_CONNECT(self) -> None:
                self.send_error(403, "no tunnels")

            def do_GET(self) -> None:
                outer.seen.append(self.path)
                key = self.path.split("?", 1)[0]
                behaviour = outer.routes.get(key)
                try:
                    if behaviour is None:
                        self.send_error(404)
                    else:
                        behaviour(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        super().__init__(Handler, poll=0.05)
        self.start()


def endless(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"\0" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    for _ in range(100_000):  # ~6 GiB: far past any limit; the client must hang up first
        h.wfile.write(frame)


def slow_loris(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(200):  # one byte every 0.2 s: each read is quick, the whole never ends
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(0.2)


def body(data: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return answer


def redirect(location: str) -> Behaviour:
    return body(b"", 302, {"Location": location})


def meta(prefix: str, vcs: str, repo: str) -> Behaviour:
    page = f'<html><head><meta name="go-import" content="{prefix} {vcs} {repo}"></head></html>'
    return body(page.encode(), 200, {"Content-Type": "text/html"})


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any attempt of this process to connect anywhere but loopback."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        if isinstance(address, tuple):
            ip = ipaddress.ip_address(address[0])
            if not ip.is_loopback:
                attempts.append(address)
                raise AssertionError(f"connection attempted to {address}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempts


def service_for(tmp_path: Path, upstream: str, **values: str) -> ProxyService:
    flags = {
        "storage": str(tmp_path / "store"),
        "goproxy": upstream,
        "upstream_timeout": "1s",
        "fetch_timeout": "2s",
        "gosumdb": "off",
        **values,
    }
    return build_service(load_settings(None, env={}, flags=flags, ask_go=False))


def stored(tmp_path: Path) -> list[str]:
    root = tmp_path / "store"
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not str(p.relative_to(root)).startswith(".")
    )


async def fetch_error(service: ProxyService, kind: str, path: str, version: str) -> Exception:
    try:
        await service.immutable(kind, path, version, Trace())
    except GoModProxyError as exc:
        return exc
    finally:
        await service.aclose()
    raise AssertionError(f"{path}@{version}.{kind} was served")


async def test_endless_body_aborted_at_the_limit(hostile: Hostile, tmp_path: Path) -> None:
    """A zip that never ends is cut at max_zip_bytes, not buffered; nothing is stored."""
    hostile.routes["/endless.test/m/@v/v1.0.0.zip"] = endless
    service = service_for(tmp_path, hostile.url, max_zip_bytes="4MiB")
    async with LoopProbe(app_for(service), "endless zip") as probe:
        exc = await fetch_error(service, "zip", "endless.test/m", "v1.0.0")
    assert probe.ok
    assert isinstance(exc, UpstreamError)
    assert "exceeds the limit of 4194304 bytes" in str(exc)
    assert stored(tmp_path) == []


async def test_endless_go_mod_aborted_at_16_mib(hostile: Hostile, tmp_path: Path) -> None:
    """A go.mod that never ends is cut at 16 MiB."""
    hostile.routes["/endless.test/m/@v/v1.0.0.mod"] = endless
    service = service_for(tmp_path, hostile.url)
    async with LoopProbe(app_for(service), "endless go.mod") as probe:
        exc = await fetch_error(service, "mod", "endless.test/m", "v1.0.0")
    assert probe.ok
    assert isinstance(exc, UpstreamError)
    assert f"larger than {16 * MiB} bytes" in str(exc)
    assert stored(tmp_path) == []


async def test_slow_loris_times_out(hostile: Hostile, tmp_path: Path) -> None:
    """A body trickling one byte at a time ends at fetch_timeout, whatever the read timeout."""
    hostile.routes["/slow.test/m/@v/v1.0.0.zip"] = slow_loris
    start = time.monotonic()
    service = service_for(tmp_path, hostile.url)
    async with LoopProbe(app_for(service), "slow-loris zip") as probe:
        exc = await fetch_error(service, "zip", "slow.test/m", "v1.0.0")
    assert probe.ok
    assert isinstance(exc, TimeoutError)
    assert "timed out" in str(exc)
    assert time.monotonic() - start < 15
    assert stored(tmp_path) == []


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (declared_bomb, "too large"),
        (lying_bomb, "zip: checksum error"),
        (traversal_zip, 'invalid path element ".."'),
    ],
    ids=["declared-bomb", "lying-bomb", "path-traversal"],
)
async def test_hostile_zip_refused(
    hostile: Hostile, tmp_path: Path, make: Callable[[], bytes], expect: str
) -> None:
    """Zip bombs and traversal names are refused by the zip checks before anything is stored."""
    module = "evil.test/m" if make is traversal_zip else "bomb.test/m"
    hostile.routes[f"/{module}/@v/v1.0.0.zip"] = body(make())
    service = service_for(tmp_path, hostile.url)
    async with LoopProbe(app_for(service), f"zip {make.__name__}") as probe:
        exc = await fetch_error(service, "zip", module, "v1.0.0")
    assert probe.ok
    assert expect in str(exc)
    assert stored(tmp_path) == []
    assert not Path("/tmp/owned").exists()


def test_traversal_request_paths_never_reach_storage() -> None:
    """Request paths with dot-dot elements are not module paths (404/400), never keys."""
    for path in (
        "/example.com/../../etc/passwd/@v/list",
        "/../x/@v/v1.0.0.zip",
        "/example.com/m/@v/../../../x.zip",
    ):
        with pytest.raises(GoModProxyError):
            parse_request(path)


async def test_redirect_to_metadata_address_refused(
    hostile: Hostile, tmp_path: Path, tripwire: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A go-get page redirecting to 169.254.169.254 is refused before any connection."""
    monkeypatch.setenv("HTTP_PROXY", hostile.url)
    monkeypatch.setenv("NO_PROXY", "")
    hostile.routes["http://evil.test/m"] = redirect("http://169.254.169.254/latest/meta-data/")
    src = DirectSource(tmp_path / "vcs", goinsecure="evil.test")
    try:
        with pytest.raises(NotFound) as info:
            await src.list("evil.test/m")
    finally:
        await src.aclose()
    assert "refusing to contact 169.254.169.254 (link-local address" in str(info.value)
    assert tripwire == []
    assert hostile.seen == ["http://evil.test/m?go-get=1"]


async def test_meta_tag_to_metadata_proxy_refused(
    hostile: Hostile, tmp_path: Path, tripwire: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``mod`` meta tag naming a GOPROXY on the metadata address is refused too."""
    monkeypatch.setenv("HTTP_PROXY", hostile.url)
    monkeypatch.setenv("NO_PROXY", "")
    hostile.routes["http://evil.test/m"] = meta("evil.test/m", "mod", "http://169.254.169.254/p")
    src = DirectSource(tmp_path / "vcs", goinsecure="evil.test")
    try:
        with pytest.raises(UpstreamError) as info:
            await src.list("evil.test/m")
    finally:
        await src.aclose()
    assert "refusing to contact 169.254.169.254" in str(info.value)
    assert tripwire == []


async def test_git_remote_on_loopback_refused_unless_allowed(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A meta tag naming a loopback git remote is refused; the allow-list lets it through."""
    monkeypatch.setenv("HTTP_PROXY", hostile.url)
    monkeypatch.setenv("NO_PROXY", "")
    hostile.routes["http://evil.test/m"] = meta("evil.test/m", "git", hostile.url + "/m.git")
    src = DirectSource(tmp_path / "vcs", goinsecure="evil.test", govcs="*:all")
    try:
        with pytest.raises(UpstreamError) as info:
            await src.list("evil.test/m")
    finally:
        await src.aclose()
    assert "refusing to contact 127.0.0.1 (loopback address" in str(info.value)
    assert not any(p.startswith("/m.git") for p in hostile.seen)

    from gomodproxy.sources.netguard import NetGuard

    allowed = DirectSource(
        tmp_path / "vcs2",
        goinsecure="evil.test",
        govcs="*:all",
        netguard=NetGuard("127.0.0.0/8"),
        discovery=Discovery(
            goinsecure="evil.test", govcs="*:all", netguard=NetGuard("127.0.0.0/8")
        ),
    )
    try:
        with pytest.raises(GoModProxyError) as info2:
            await allowed.list("evil.test/m")
    finally:
        await allowed.aclose()
    assert "refusing" not in str(info2.value)
    assert any(p.startswith("/m.git") for p in hostile.seen)


async def test_upstream_proxy_redirect_to_metadata_refused(
    hostile: Hostile, tmp_path: Path, tripwire: list[Any]
) -> None:
    """A configured upstream GOPROXY redirecting to the metadata address is not followed."""
    hostile.routes["/evil.test/m/@v/v1.0.0.mod"] = redirect(
        "http://169.254.169.254/latest/meta-data/iam/"
    )
    exc = await fetch_error(service_for(tmp_path, hostile.url), "mod", "evil.test/m", "v1.0.0")
    assert isinstance(exc, UpstreamError)
    assert "refusing to contact 169.254.169.254 (link-local address" in str(exc)
    assert tripwire == []
    assert stored(tmp_path) == []


@pytest.mark.parametrize(
    "host",
    ["[64:ff9b::a9fe:a9fe]", "[::ffff:a9fe:a9fe]", "[2002:a9fe:a9fe::1]", "[::169.254.169.254]"],
    ids=["nat64", "mapped", "6to4", "compatible"],
)
async def test_upstream_redirect_to_metadata_as_ipv6_refused(
    hostile: Hostile, tmp_path: Path, tripwire: list[Any], host: str
) -> None:
    """The same metadata address written as an IPv6 form that embeds it is refused too."""
    hostile.routes["/evil.test/m/@v/v1.0.0.mod"] = redirect(f"http://{host}/latest/meta-data/")
    exc = await fetch_error(service_for(tmp_path, hostile.url), "mod", "evil.test/m", "v1.0.0")
    assert isinstance(exc, UpstreamError)
    assert "link-local address" in str(exc)
    assert tripwire == []
    assert stored(tmp_path) == []


# -- parsing bounds: each case with a /healthz probe on the same event loop ----------------


def app_for(service: ProxyService) -> ProxyApp:
    return ProxyApp(service, ServerSettings(), CacheSettings().list_ttl)


def gzip_body(data: bytes) -> Behaviour:
    packed = gzip.compress(data, 9)
    return body(packed, 200, {"Content-Encoding": "gzip"})


async def test_huge_list_is_validated_off_the_event_loop(hostile: Hostile, tmp_path: Path) -> None:
    """A 14 MB @v/list is checked line by line in a worker thread, at each refresh too."""
    lines = b"".join(b"v1.0.%d\n" % i for i in range(1_200_000))
    assert len(lines) > 14_000_000
    hostile.routes["/big.test/m/@v/list"] = body(lines)
    service = service_for(tmp_path, hostile.url, list_ttl="0s")
    try:
        async with LoopProbe(app_for(service), "14 MB @v/list") as probe:
            art = await service.list("big.test/m", Trace())
            assert art.data == lines
            again = await service.list("big.test/m", Trace())  # stale: a background refresh
            assert again.data == lines
            while service._background:
                await asyncio.sleep(0.01)
    finally:
        await service.aclose()
    assert probe.ok


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (lambda: b'{"Version":"v1.0.0","X":"' + b"x" * (15 * MiB) + b'"}', "larger than 65536"),
        (lambda: b"[" * 60_000 + b"]" * 60_000, "larger than 65536"),
        (lambda: b'{"Version":"v1.0.0","X":' + b"[" * 30_000 + b"]" * 30_000 + b"}", "invalid"),
    ],
    ids=["15-mib-info", "deep-nesting-120k", "deep-nesting-60k"],
)
async def test_hostile_info_is_an_upstream_error(
    hostile: Hostile, tmp_path: Path, make: Callable[[], bytes], expect: str
) -> None:
    """A huge or deeply nested .info is an upstream error (stale-if-error applies; never a
    500 "internal error" from a RecursionError), and nothing is stored."""
    hostile.routes["/deep.test/m/@v/v1.0.0.info"] = body(make())
    service = service_for(tmp_path, hostile.url)
    async with LoopProbe(app_for(service), f"hostile .info {expect}") as probe:
        exc = await fetch_error(service, "info", "deep.test/m", "v1.0.0")
    assert isinstance(exc, UpstreamError), exc
    assert expect in str(exc)
    assert stored(tmp_path) == []
    assert probe.ok


@pytest.mark.parametrize("kind", ["info", "mod", "zip"])
async def test_gzip_bomb_is_cut_at_the_limit_without_inflating_it_whole(
    hostile: Hostile, tmp_path: Path, kind: str
) -> None:
    """300 MB of zeros in ~300 KB of gzip: inflating stops one 1 MiB step past the limit,
    so the fetch never holds much more than the limit (measured with tracemalloc)."""
    hostile.routes[f"/gz.test/m/@v/v1.0.0.{kind}"] = gzip_body(b"\0" * (300 * MiB))
    service = service_for(tmp_path, hostile.url, max_zip_bytes="8MiB")
    tracemalloc.start()
    try:
        async with LoopProbe(app_for(service), f"gzip bomb .{kind}") as probe:
            exc = await fetch_error(service, kind, "gz.test/m", "v1.0.0")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(exc, UpstreamError), exc
    assert "limit" in str(exc) or "larger than" in str(exc)
    limit = {"info": 64 << 10, "mod": 16 * MiB, "zip": 8 * MiB}[kind]
    assert peak < 2 * limit + 8 * MiB, peak
    assert stored(tmp_path) == []
    assert probe.ok


async def test_gzip_body_within_the_limit_is_served(hostile: Hostile, tmp_path: Path) -> None:
    """An honest gzip-encoded go.mod is decoded and served as the plain bytes."""
    hostile.routes["/gz.test/m/@v/v1.0.0.mod"] = gzip_body(b"module gz.test/m\n")
    service = service_for(tmp_path, hostile.url)
    try:
        art = await service.immutable("mod", "gz.test/m", "v1.0.0", Trace())
    finally:
        await service.aclose()
    assert art.data == b"module gz.test/m\n"


def many_entries_zip(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("many.test/m@v1.0.0/go.mod", b"module many.test/m\n")
        for i in range(n):
            zf.writestr(f"many.test/m@v1.0.0/f{i}", b"")
    return buf.getvalue()


async def test_zip_with_too_many_entries_refused(hostile: Hostile, tmp_path: Path) -> None:
    """100,001 empty files: refused by their count before the zip is opened."""
    hostile.routes["/many.test/m/@v/v1.0.0.zip"] = body(many_entries_zip(100_000))
    service = service_for(tmp_path, hostile.url, fetch_timeout="60s")
    async with LoopProbe(app_for(service), "zip of 100,001 entries") as probe:
        exc = await fetch_error(service, "zip", "many.test/m", "v1.0.0")
    assert isinstance(exc, UpstreamError)
    assert "100001 entries exceed the limit of 100000" in str(exc)
    assert stored(tmp_path) == []
    assert probe.ok
