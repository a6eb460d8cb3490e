"""The ASGI app in-process: routes, statuses, caching headers, ranges, metrics and the log."""

from __future__ import annotations

import io
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gomodproxy.cache.memory import LocalSingleFlight, MemoryMetadataCache
from gomodproxy.checksumdb.verify import SumdbVerifier
from gomodproxy.compose import build_app
from gomodproxy.config.settings import CacheSettings, ServerSettings, load_settings
from gomodproxy.errors import UpstreamError, UpstreamTimeout
from gomodproxy.ops.metrics import Metrics, RequestLog
from gomodproxy.ops.record import RequestRecord
from gomodproxy.ports.cache import MetadataCache, SingleFlight
from gomodproxy.ports.keys import MAX_KEY_BYTES
from gomodproxy.ports.storage import BlobStore
from gomodproxy.server.app import ProxyApp
from gomodproxy.service.freshness import FreshnessPolicy
from gomodproxy.service.proxy import FILE_RECHECK, ProxyService, ServiceOptions, Trace
from gomodproxy.service.requests import BadRequest, parse_request
from gomodproxy.storage.filesystem import FilesystemStore
from gomodproxy.storage.memory import MemoryStore
from tests.e2e.fixtures import ModuleVersion
from tests.unit.test_service import FakeSource

MOD = "example.com/m"


def make_app(
    tmp_path: Path,
    source: FakeSource,
    mounts: dict[str, Any] | None = None,
    **settings: object,
) -> tuple[ProxyApp, io.StringIO]:
    flags = {"goproxy": "off", "storage": "memory://", **settings}
    cfg = load_settings(env={}, flags=flags, ask_go=False)
    options = ServiceOptions(freshness=FreshnessPolicy(list_ttl=cfg.cache.list_ttl))
    service = ProxyService(MemoryStore(), source, temp_dir=tmp_path, options=options)
    out = io.StringIO()
    metrics = Metrics()
    service.observer = metrics
    log = RequestLog(out, interval=0)
    return ProxyApp(service, cfg.server, cfg.cache.list_ttl, metrics, log, mounts=mounts), out


def make_full_app(
    tmp_path: Path,
    source: FakeSource,
    *,
    store: BlobStore | None = None,
    verifier: SumdbVerifier | None = None,
    caches: tuple[MetadataCache, SingleFlight] | None = None,
    **settings: object,
) -> tuple[ProxyApp, io.StringIO]:
    """The app as ``serve`` composes it (gate, status page, SLI, admin, /sumdb/), over a
    memory store (or ``store``), ``source`` and in-process caches (or ``caches``)."""
    flags = {"goproxy": "direct", "storage": "memory://", **settings}
    cfg = load_settings(env={}, flags=flags, ask_go=False)
    out = io.StringIO()
    app = build_app(
        cfg,
        metrics=Metrics(),
        request_log=RequestLog(out, interval=0),
        store=store or MemoryStore(),
        source=source,
        temp_dir=tmp_path,
        caches=caches or (MemoryMetadataCache(), LocalSingleFlight()),
        verifier=verifier,
    )
    return app, out


@pytest.fixture
def source() -> FakeSource:
    s = FakeSource()
    s.add(MOD, "v1.0.0")
    s.add("example.com/Up", "v1.0.0-RC1")
    s.answers[("list", MOD, "")] = b"v1.0.0\n"
    return s


@pytest.fixture
async def client(tmp_path: Path, source: FakeSource) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = make_app(tmp_path, source)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


class TestProtocol:
    async def test_info_mod_zip_list(self, client: httpx.AsyncClient, source: FakeSource) -> None:
        """The four artifacts with their content types and caching headers."""
        r = await client.get(f"/{MOD}/@v/v1.0.0.info")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert json.loads(r.content)["Version"] == "v1.0.0"
        r = await client.get(f"/{MOD}/@v/v1.0.0.mod")
        assert r.content == b"module example.com/m\n"
        assert r.headers["content-type"].startswith("text/plain")
        r = await client.get(f"/{MOD}/@v/v1.0.0.zip")
        assert r.content == source.answers[("zip", MOD, "v1.0.0")]
        assert r.headers["accept-ranges"] == "bytes"
        r = await client.get(f"/{MOD}/@v/list")
        assert r.content == b"v1.0.0\n"
        assert r.headers["cache-control"] == "public, max-age=60"

    async def test_percent_encoded_escaped_path(self, client: httpx.AsyncClient) -> None:
        """%21 decodes to '!', the case escape: /example.com/%21up/@v/v1.0.0-%21r%21c1.mod."""
        r = await client.get("/example.com/%21up/@v/v1.0.0-%21r%21c1.mod")
        assert r.status_code == 200
        assert r.content == b"module example.com/Up\n"

    @pytest.mark.parametrize(
        ("path", "status"),
        [
            ("/example.com/Up/@v/list", 400),  # upper case is never on the wire
            ("/example.com/m/@v/v1.0.0.tar", 400),
            ("/example.com/m/@v/v1.0.mod", 400),
            ("/example.com/m/@v/", 400),
            ("/nothing-here", 400),
            ("/example.com/m/@v/v2.0.0.mod", 404),  # v2 of an unversioned path
            ("/example.com/none/@v/list", 404),
            ("/example.com/m/@v/v9.9.9.zip", 404),
            ("/x/@v/list", 404),  # not a module path (no dot in the first element)
        ],
    )
    async def test_bad_and_missing(self, client: httpx.AsyncClient, path: str, status: int) -> None:
        """Malformed requests get 400, absent or impossible modules 404, with a one-line reason."""
        r = await client.get(path)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.text.endswith("\n")
        assert "\n" not in r.text[:-1]
        assert "Traceback" not in r.text

    async def test_upstream_error_is_404_no_store_by_default(
        self, tmp_path: Path, source: FakeSource
    ) -> None:
        """5xx and timeouts upstream answer 404 no-store, or 502 when configured."""
        source.answers[("info", MOD, "v1.0.0")] = UpstreamError("proxy:x: status 500", status=500)
        source.answers[("mod", MOD, "v1.0.0")] = UpstreamTimeout("proxy:x: timed out")
        for status in (404, 502):
            app, _ = make_app(tmp_path, source, upstream_error_status=status)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as c:
                for suffix in ("info", "mod"):
                    r = await c.get(f"/{MOD}/@v/v1.0.0.{suffix}")
                    assert r.status_code == status
                    assert r.headers["cache-control"] == "no-store"
                    assert "upstream error" in r.text

    async def test_unexpected_exception_is_500_without_traceback(
        self, tmp_path: Path, source: FakeSource
    ) -> None:
        """A bug answers a fixed text, never a traceback."""
        source.answers[("info", MOD, "v1.0.0")] = RuntimeError("secret internals")
        app, _ = make_app(tmp_path, source)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            r = await c.get(f"/{MOD}/@v/v1.0.0.info")
        assert r.status_code == 500
        assert r.text == "internal error\n"


class TestHttp:
    async def test_etag_and_304(self, client: httpx.AsyncClient) -> None:
        """If-None-Match with the ETag answers 304, on the hot path too."""
        for _ in range(2):  # miss, then hot cache
            r = await client.get(f"/{MOD}/@v/v1.0.0.mod")
            etag = r.headers["etag"]
            r304 = await client.get(f"/{MOD}/@v/v1.0.0.mod", headers={"If-None-Match": etag})
            assert r304.status_code == 304
            assert r304.content == b""
            assert r304.headers["etag"] == etag
        r = await client.get(f"/{MOD}/@v/v1.0.0.mod", headers={"If-None-Match": '"other"'})
        assert r.status_code == 200
        assert r.content == b"module example.com/m\n"
        assert "content-range" not in r.headers

    async def test_ranges_on_zip(self, client: httpx.AsyncClient, source: FakeSource) -> None:
        """Single byte ranges give 206, past-the-end 416, multi-range the whole body."""
        data = source.answers[("zip", MOD, "v1.0.0")]
        assert isinstance(data, bytes)
        url = f"/{MOD}/@v/v1.0.0.zip"
        r = await client.get(url, headers={"Range": "bytes=0-9"})
        assert (r.status_code, r.content) == (206, data[:10])
        assert r.headers["content-range"] == f"bytes 0-9/{len(data)}"
        r = await client.get(url, headers={"Range": "bytes=-5"})
        assert (r.status_code, r.content) == (206, data[-5:])
        r = await client.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert r.status_code == 416
        assert r.headers["content-range"] == f"bytes */{len(data)}"
        r = await client.get(url, headers={"Range": "bytes=0-1,5-6"})
        assert (r.status_code, r.content) == (200, data)
        r = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
        assert r.status_code == 200
        assert r.content == data
        assert "content-range" not in r.headers

    async def test_range_on_streamed_zip(self, tmp_path: Path, source: FakeSource) -> None:
        """A zip too big for memory streams from storage, ranges included."""
        app, _ = make_app(tmp_path, source, hot_cache_item_bytes=1)
        app.service.hot.max_item_bytes = 1
        data = source.answers[("zip", MOD, "v1.0.0")]
        assert isinstance(data, bytes)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            r = await c.get(f"/{MOD}/@v/v1.0.0.zip")
            assert r.content == data
            r = await c.get(f"/{MOD}/@v/v1.0.0.zip", headers={"Range": "bytes=3-"})
            assert (r.status_code, r.content) == (206, data[3:])

    async def test_head_and_method_not_allowed(self, client: httpx.AsyncClient) -> None:
        """HEAD has the headers without a body; POST is 405."""
        got = await client.get(f"/{MOD}/@v/v1.0.0.info")
        r = await client.head(f"/{MOD}/@v/v1.0.0.info")
        assert r.status_code == 200
        assert r.content == b""
        assert int(r.headers["content-length"]) == len(got.content) > 0
        assert r.headers["etag"] == got.headers["etag"]
        r = await client.post(f"/{MOD}/@v/v1.0.0.info")
        assert r.status_code == 405
        assert r.headers["allow"] == "GET, HEAD"

    async def test_health_ready_metrics(self, client: httpx.AsyncClient) -> None:
        """/healthz, /readyz and /metrics with the documented metric names."""
        assert (await client.get("/healthz")).text == "ok\n"
        assert (await client.get("/readyz")).status_code == 200
        await client.get(f"/{MOD}/@v/v1.0.0.info")
        await client.get(f"/{MOD}/@v/v1.0.0.info")
        text = (await client.get("/metrics")).text
        assert 'gomodproxy_http_requests_total{code="200",route="info"} 2.0' in text
        assert 'gomodproxy_http_request_duration_seconds_bucket{le="+Inf",route="info"} 2.0' in text
        assert 'gomodproxy_cache_lookups_total{result="hit",tier="memory"} 1.0' in text
        assert (
            "gomodproxy_upstream_requests_total"
            '{artifact="info",outcome="success",source="fake"} 1.0' in text
        )
        assert "gomodproxy_upstream_request_duration_seconds_count" in text
        assert "gomodproxy_inflight_fetches 0.0" in text

    async def test_mounted_prefix(self, tmp_path: Path, source: FakeSource) -> None:
        """Requests under a mounted prefix go to the mounted app."""

        async def sumdb(scope: object, receive: object, send: object) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": b"mounted"})  # type: ignore[operator]

        app, _ = make_app(tmp_path, source, mounts={"/sumdb/": sumdb})
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            assert (await c.get("/sumdb/sum.example/supported")).text == "mounted"

    async def test_mounted_requests_logged_and_counted_with_real_status(
        self, tmp_path: Path, source: FakeSource
    ) -> None:
        """A /sumdb/ passthrough answer is logged and counted with the status and body size
        the mounted app sent (they were recorded as status 0 and 0 bytes)."""
        observed: list[tuple[str, int, int]] = []

        async def sumdb(scope: dict[str, str], receive: object, send: object) -> None:
            found = scope["path"].endswith("/supported")
            status, body = (200, b"") if found else (404, b"not found: no such record\n")
            await send({"type": "http.response.start", "status": status, "headers": []})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": body, "more_body": True})  # type: ignore[operator]
            await send({"type": "http.response.body", "body": b"tail" if found else b""})  # type: ignore[operator]

        app, out = make_app(tmp_path, source, mounts={"/sumdb/": sumdb})
        app.observers.append(lambda rec: observed.append((rec.route, rec.status, rec.size)))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            assert (await c.get("/sumdb/sum.example/supported")).status_code == 200
            assert (await c.get("/sumdb/sum.example/lookup/x@v1")).status_code == 404
            metrics = (await c.get("/metrics")).text
        app.request_log.flush()  # type: ignore[union-attr]
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [(r["route"], r["status"], r["bytes"]) for r in lines[:2]] == [
            ("sumdb", 200, 4),
            ("sumdb", 404, len(b"not found: no such record\n")),
        ]
        assert observed[:2] == [("sumdb", 200, 4), ("sumdb", 404, 26)]
        assert 'gomodproxy_http_requests_total{code="200",route="sumdb"} 1.0' in metrics
        assert 'gomodproxy_http_requests_total{code="404",route="sumdb"} 1.0' in metrics

    async def test_an_over_long_path_is_cut_in_the_log(
        self, tmp_path: Path, source: FakeSource
    ) -> None:
        """A 30,000-character path answers 404 and its log line holds only the longest
        servable path's worth of it, with the count of what was cut."""
        app, out = make_app(tmp_path, source)
        path = "/ex.com/" + "a" * 30_000 + "/@v/list"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            assert (await c.get(path)).status_code == 404
        app.request_log.flush()  # type: ignore[union-attr]
        (line,) = [json.loads(text) for text in out.getvalue().splitlines()]
        assert line["status"] == 404
        cut = len(path) - MAX_KEY_BYTES
        assert line["path"] == f"{path[:MAX_KEY_BYTES]}...[{cut} more characters]"

    async def test_one_record_per_request_through_the_chain(
        self, tmp_path: Path, source: FakeSource
    ) -> None:
        """Every observer sees the same record, filled once: a cold and a hot hit carry the
        parsed request (no observer parses the path again), the hot one its log fragment."""
        app, out = make_app(tmp_path, source)
        seen: list[RequestRecord] = []
        app.observers.append(seen.append)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            await c.get(f"/{MOD}/@v/v1.0.0.info")
            await c.head(f"/{MOD}/@v/v1.0.0.info")
        cold, hot = seen
        for rec in (cold, hot):
            assert rec.req is not None
            assert (rec.req.path, rec.req.version, rec.route) == (MOD, "v1.0.0", "info")
            assert rec.status == 200
        assert (cold.cache, cold.source, cold.log_fragment) == ("miss", "fake", None)
        assert (hot.cache, hot.source, hot.method) == ("hit", "memory", "HEAD")
        assert hot.log_fragment is not None
        app.request_log.flush()  # type: ignore[union-attr]
        hot_line = json.loads(out.getvalue().splitlines()[1])
        assert (hot_line["method"], hot_line["cache"], hot_line["status"]) == ("HEAD", "hit", 200)
        assert hot_line["bytes"] == cold.size

    async def test_request_log_line(self, tmp_path: Path, source: FakeSource) -> None:
        """One JSON line per request with route, module, version, cache, source, status, bytes."""
        app, out = make_app(tmp_path, source)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            await c.get(f"/{MOD}/@v/v1.0.0.info")
            await c.get(f"/{MOD}/@v/v1.0.0.info")
            await c.get("/example.com/none/@v/list")
        app.request_log.flush()  # type: ignore[union-attr]
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [(r["route"], r["status"], r["cache"]) for r in lines] == [
            ("info", 200, "miss"),
            ("info", 200, "hit"),
            ("list", 404, "miss"),
        ]
        first = lines[0]
        assert first["module"] == MOD
        assert first["version"] == "v1.0.0"
        assert first["source"] == "fake"
        assert first["bytes"] > 0
        assert first["duration_ms"] >= 0
        assert first["request_id"]
        assert lines[2]["error"].startswith("not found")


@pytest.mark.parametrize(
    ("path", "kind", "module", "version"),
    [
        ("/a.com/b/@v/list", "list", "a.com/b", ""),
        ("/a.com/b/@latest", "latest", "a.com/b", ""),
        ("/a.com/!b/@v/v1.0.0.zip", "zip", "a.com/B", "v1.0.0"),
        ("/a.com/b/@v/master.info", "query", "a.com/b", "master"),
        ("/a.com/b/@v/v1.2.info", "query", "a.com/b", "v1.2"),
        ("/a.com/b/@v/v2.0.0.info", "query", "a.com/b", "v2.0.0"),
        ("/a.com/b/@v/v2.0.0+incompatible.mod", "mod", "a.com/b", "v2.0.0+incompatible"),
    ],
)
def test_parse_request(path: str, kind: str, module: str, version: str) -> None:
    """Paths map to the artifact kind, the unescaped module path and version."""
    req = parse_request(path)
    assert (req.kind, req.path, req.version) == (kind, module, version)


def test_parse_request_bad_version_escape() -> None:
    """An upper-case letter in a version on the wire is a bad request."""
    with pytest.raises(BadRequest):
        parse_request("/a.com/b/@v/v1.0.0-RC1.info")


class TestPathsend:
    """Stored zips go out as ``http.response.pathsend`` when the server offers it."""

    @staticmethod
    async def call(
        app: ProxyApp, path: str, *, method: str = "GET", pathsend: bool = True, **headers: str
    ) -> list[dict[str, object]]:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "extensions": {"http.response.pathsend": {}} if pathsend else {},
            "client": ("127.0.0.1", 1),
        }
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await app(scope, receive, send)  # type: ignore[arg-type]
        return sent

    @pytest.fixture
    async def stored(self, tmp_path: Path, source: FakeSource) -> tuple[ProxyApp, Path, bytes]:
        """A filesystem store holding the zip (fetched once), and an app over it."""
        # 256 KiB that do not compress: above the size sent from memory.
        blob = random.Random(5).randbytes(256 << 10)
        data = ModuleVersion(MOD, "v1.0.0", {"blob": blob}).zip_bytes()
        source.answers[("zip", MOD, "v1.0.0")] = data
        store = FilesystemStore(tmp_path / "data")
        service = ProxyService(store, source, temp_dir=tmp_path / "work")
        await service.immutable("zip", MOD, "v1.0.0", Trace())
        service.hot.discard(f"{MOD}/@v/v1.0.0.zip")  # as in a new worker
        app = ProxyApp(service, ServerSettings(), CacheSettings().list_ttl, Metrics())
        return app, tmp_path / "data", data

    async def test_file_is_sent_by_path_then_from_the_record(
        self, stored: tuple[ProxyApp, Path, bytes]
    ) -> None:
        app, root, data = stored
        url = f"/{MOD}/@v/v1.0.0.zip"
        for _ in range(2):  # from storage, then from the record kept in memory
            start, body = await self.call(app, url)
            assert start["status"] == 200
            assert dict(start["headers"])[b"content-length"] == str(len(data)).encode()  # type: ignore[call-overload]
            assert body == {"type": "http.response.pathsend", "path": str(root / url[1:])}
        assert (root / url[1:]).read_bytes() == data
        head = await self.call(app, url, method="HEAD")
        assert head[-1] == {"type": "http.response.body", "body": b""}
        ranged = await self.call(app, url, Range="bytes=10-19")
        assert ranged[0]["status"] == 206
        assert b"".join(m.get("body", b"") for m in ranged[1:]) == data[10:20]  # type: ignore[misc]

    async def test_without_pathsend_the_bytes_are_sent(
        self, stored: tuple[ProxyApp, Path, bytes]
    ) -> None:
        app, _, data = stored
        sent = await self.call(app, f"/{MOD}/@v/v1.0.0.zip", pathsend=False)
        assert sent[0]["status"] == 200
        assert b"".join(m.get("body", b"") for m in sent[1:]) == data  # type: ignore[misc]
        assert all(m["type"] != "http.response.pathsend" for m in sent)

    async def test_a_removed_file_is_noticed(
        self, stored: tuple[ProxyApp, Path, bytes], source: FakeSource
    ) -> None:
        """A record is checked again after FILE_RECHECK seconds: a zip gc removed is fetched
        again, not sent by a path that no longer exists."""
        app, root, _ = stored
        url = f"/{MOD}/@v/v1.0.0.zip"
        await self.call(app, url)
        (root / url[1:]).unlink()
        art = app.service.hot.get(url[1:])
        assert art is not None
        art.checked -= FILE_RECHECK
        again = ModuleVersion(MOD, "v1.0.0", {"x.go": b"package m\n"}).zip_bytes()
        source.answers[("zip", MOD, "v1.0.0")] = again
        sent = await self.call(app, url)
        assert sent[0]["status"] == 200
        assert b"".join(m.get("body", b"") for m in sent[1:]) == again  # type: ignore[misc]


class TestPrivateSumdbKey:
    @pytest.mark.parametrize(
        ("content", "reason"),
        [(None, "No such file or directory"), ("not a key\n", "malformed verifier id")],
    )
    def test_an_unusable_signer_key_is_a_config_error(
        self, tmp_path: Path, content: str | None, reason: str
    ) -> None:
        """A worker whose private checksum database cannot sign says which setting is wrong
        (a ConfigError, as for every other setting build_app cannot use)."""
        from gomodproxy.errors import ConfigError

        key = tmp_path / "signer.key"
        if content is not None:
            key.write_text(content)
        with pytest.raises(ConfigError, match=f"^sumdb_private_key: {key}: {reason}"):
            make_full_app(tmp_path, FakeSource(), sumdb_private_key=str(key))

    async def test_a_signer_key_serves_the_private_database(self, tmp_path: Path) -> None:
        from gomodproxy.sumdb import note

        skey, _ = note.generate_key("corp.example/sumdb", bytes(32))
        key = tmp_path / "signer.key"
        key.write_text(skey + "\n")
        app, _ = make_full_app(tmp_path, FakeSource(), sumdb_private_key=str(key))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/sumdb/corp.example/sumdb/supported")
        assert r.status_code == 200
        await app.service.aclose()
