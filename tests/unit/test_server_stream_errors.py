"""Errors after the response started, and errors of mounted apps and exact routes: recorded
once (request log, metrics, SLI, audit), never a traceback; a started body is left
unfinished so the server aborts the connection instead of completing a truncated artifact."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gomodproxy.config.settings import CacheSettings, ServerSettings
from gomodproxy.errors import StorageError, VerificationError
from gomodproxy.ops.audit import AuditLog
from gomodproxy.ops.metrics import Metrics, RequestLog
from gomodproxy.ops.observe import OpsObserver
from gomodproxy.server.app import ProxyApp
from gomodproxy.server.sumdb_routes import SumdbRoutes
from gomodproxy.service.proxy import ProxyService
from gomodproxy.storage.memory import MemoryStore
from tests.unit.test_service import FakeSource

MOD = "example.com/m"
ZIP = f"/{MOD}/@v/v1.0.0.zip"


class FlakyStore(MemoryStore):
    """Streams as stored until told to fail: ``raise_after`` bytes then the error, or
    ``vanish`` (the blob is deleted between the lookup and the read)."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None
        self.raise_after = 0
        self.vanish = False

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if self.vanish:
            await self.delete(key)
        if self.error is None:
            async for chunk in super().stream(key, start, end):
                yield chunk
            return
        data = await self.get(key)
        assert data is not None
        yield data[start : start + self.raise_after]
        raise self.error


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.source = FakeSource()
        self.source.add(MOD, "v1.0.0")
        self.store = FlakyStore()
        service = ProxyService(self.store, self.source, temp_dir=tmp_path)
        service.hot.max_item_bytes = 1  # every zip streams from storage
        self.log = io.StringIO()
        self.audit_out = io.StringIO()
        self.metrics = Metrics()
        audit = AuditLog("-", interval=0, stream=self.audit_out)
        self.audit_log = audit
        self.service = service
        self.app = self.build()

    def build(self, **routes: Any) -> ProxyApp:
        """The app over this world, with ``mounts`` or ``exact_routes`` given."""
        return ProxyApp(
            self.service,
            ServerSettings(),
            CacheSettings().list_ttl,
            self.metrics,
            RequestLog(self.log, interval=0),
            observers=[OpsObserver(self.metrics, None, self.audit_log)],
            **routes,
        )

    def lines(self) -> list[dict[str, Any]]:
        assert self.app.request_log is not None
        self.app.request_log.flush()
        return [json.loads(line) for line in self.log.getvalue().splitlines()]

    def audit(self) -> list[dict[str, Any]]:
        self.audit_log.flush()
        return [json.loads(line) for line in self.audit_out.getvalue().splitlines()]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


async def raw_get(app: ProxyApp, path: str) -> list[dict[str, Any]]:
    """Drive the ASGI app directly; the messages it sent (it must not raise)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [],
        "query_string": b"",
        "client": ("127.0.0.1", 1),
    }
    await app(scope, receive, send)
    return sent


def zip_bytes(world: World) -> bytes:
    data = world.source.answers[("zip", MOD, "v1.0.0")]
    assert isinstance(data, bytes)
    return data


class TestAfterTheResponseStarted:
    @pytest.mark.parametrize(
        ("error", "status", "event"),
        [
            (StorageError("blob store down"), 503, "failed"),
            (VerificationError("checksum mismatch"), 403, "refused"),
        ],
    )
    async def test_mid_stream_error_is_recorded_and_the_body_left_unfinished(
        self,
        world: World,
        caplog: pytest.LogCaptureFixture,
        error: Exception,
        status: int,
        event: str,
    ) -> None:
        """Headers went out, then the store failed: no exception escapes the app, the body
        never ends, and the failure reaches the request log, metrics, SLI and audit."""
        async with world.client() as c:
            assert (await c.get(ZIP)).content == zip_bytes(world)  # stored, streams from it
        world.store.error, world.store.raise_after = error, 10
        with caplog.at_level(logging.ERROR, logger="gomodproxy.server"):
            sent = await raw_get(world.app, ZIP)
        assert sent[0]["type"] == "http.response.start"
        assert sent[0]["status"] == 200
        bodies = sent[1:]
        assert [m["body"] for m in bodies] == [zip_bytes(world)[:10]]
        assert all(m.get("more_body") for m in bodies)  # never completed
        last = world.lines()[-1]
        assert (last["route"], last["status"], last["bytes"], last["sli"]) == (
            "zip",
            status,
            10,
            "failure",
        )
        assert str(error) in last["error"]
        assert "aborted" in last["error"]
        text = world.metrics.render().decode()
        assert f'gomodproxy_http_requests_total{{code="{status}",route="zip"}} 1.0' in text
        assert 'gomodproxy_download_responses_total{artifact="zip",outcome="failure"} 1.0' in text
        assert world.audit()[-1]["event"] == event
        records = [r for r in caplog.records if r.name == "gomodproxy.server"]
        assert len(records) == 1
        assert records[0].exc_info is None
        assert str(error) in records[0].getMessage()

    async def test_blob_deleted_after_lookup_is_a_storage_failure(self, world: World) -> None:
        """A stored blob that vanishes between lookup and read is no "not found" success."""
        async with world.client() as c:
            await c.get(ZIP)
        world.store.vanish = True
        sent = await raw_get(world.app, ZIP)
        assert [m["type"] for m in sent] == ["http.response.start"]
        last = world.lines()[-1]
        assert (last["status"], last["sli"]) == (503, "failure")
        assert "not stored" in last["error"]

    async def test_client_gone_is_no_server_fault(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The server's send failing (client disconnected) is recorded as 499, not logged as
        an error nor counted against the SLI."""
        async with world.client() as c:
            await c.get(ZIP)
        calls = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            nonlocal calls
            calls += 1
            if calls > 1:
                raise OSError("connection reset")

        scope: dict[str, Any] = {"type": "http", "method": "GET", "path": ZIP, "headers": []}
        with caplog.at_level(logging.ERROR, logger="gomodproxy.server"):
            await world.app(scope, receive, send)
        last = world.lines()[-1]
        assert (last["status"], last["bytes"], last["sli"]) == (499, 0, "success")
        assert "connection reset" in last["error"]
        assert not [r for r in caplog.records if r.name == "gomodproxy.server"]

    async def test_error_before_the_start_still_answers_a_status(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failure while answering, before any byte went out, is still a one-line
        text/plain status."""

        async def broken(*args: Any) -> None:
            raise StorageError("headers never sent")

        monkeypatch.setattr(world.app, "_artifact", broken)
        async with world.client() as c:
            r = await c.get(ZIP)
        assert r.status_code == 503
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.text == "storage unavailable: headers never sent\n"
        assert world.lines()[-1]["sli"] == "failure"


class TestMountsAndExactRoutes:
    async def test_mount_that_raises_answers_500_once(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A bug in a mounted app is a fixed one-line 500, logged once, with a log line."""

        async def bad(scope: Any, receive: Any, send: Any) -> None:
            raise RuntimeError("secret internals")

        world.app = world.build(mounts={"/bad/": bad})
        with caplog.at_level(logging.ERROR, logger="gomodproxy.server"):
            sent = await raw_get(world.app, "/bad/x")
        assert sent[0]["status"] == 500
        assert sent[-1]["body"] == b"internal error\n"
        headers = dict(sent[0]["headers"])
        assert headers[b"content-type"] == b"text/plain; charset=utf-8"
        last = world.lines()[-1]
        assert (last["route"], last["status"]) == ("bad", 500)
        assert "secret internals" in last["error"]
        assert len([r for r in caplog.records if r.name == "gomodproxy.server"]) == 1
        assert b'gomodproxy_http_requests_total{code="500",route="bad"} 1.0' in (
            world.metrics.render()
        )

    async def test_exact_route_failing_after_start_is_left_unfinished(self, world: World) -> None:
        async def half(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            raise StorageError("gone")

        world.app = world.build(exact_routes={"/half": half})
        sent = await raw_get(world.app, "/half")
        assert [m.get("more_body") for m in sent[1:]] == [True]
        last = world.lines()[-1]
        assert (last["route"], last["status"], last["bytes"]) == ("half", 503, 3)

    async def test_sumdb_unexpected_error_is_our_500(self, world: World) -> None:
        """SumdbRoutes maps our errors itself; anything else is the mount guard's 500."""

        class Broken:
            async def passthrough(self, endpoint: str) -> Any:
                raise RuntimeError("bug in passthrough")

        routes: Any = SumdbRoutes({"sum.example": Broken()})  # type: ignore[dict-item]
        world.app = world.build(mounts={"/sumdb/": routes})
        async with world.client() as c:
            r = await c.get("/sumdb/sum.example/latest")
            ok = await c.get("/sumdb/other.example/latest")
        assert (r.status_code, r.text) == (500, "internal error\n")
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert ok.status_code == 404
        last = world.lines()[-2]
        assert (last["route"], last["status"]) == ("sumdb", 500)
        assert "bug in passthrough" in last["error"]
