"""The status page at "/": served by the app, self-contained, showing what operators need."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from gomodproxy.errors import UpstreamError
from gomodproxy.ops import routes
from gomodproxy.ops.observe import RecentError
from gomodproxy.ops.statuspage import Status, UpstreamHealth, duration, render, size
from tests.unit.test_server import make_app
from tests.unit.test_service import FakeSource

MOD = "example.com/m"


def _status(**over: object) -> Status:
    fields: dict[str, object] = {
        "version": "1.2.3",
        "uptime_seconds": 93784.0,
        "storage_backend": "filesystem",
        "storage_bytes": 3 * 1024 * 1024,
        "storage_files": 12,
        "cache_hits": 9,
        "cache_lookups": 10,
        "download_success": 199,
        "download_failure": 1,
        "upstreams": [UpstreamHealth("up", success=3, errors=4)],
        "sumdb_name": "sum.example",
        "sumdb_mode": "strict",
        "verification_failures": 0,
        "degraded": [],
        "recent_errors": [RecentError(0.0, 502, "/<script>/@v/list", "boom & <b>")],
        "top_modules": [("example.com/a", 5)],
    }
    fields.update(over)
    return Status(**fields)  # type: ignore[arg-type]


def test_render_escapes_and_needs_nothing_external() -> None:
    page = render(_status()).decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page  # the error path is escaped, not markup
    assert "&lt;script&gt;" in page
    assert "boom &amp; &lt;b&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    for text in ("1d 2h 3m 4s", "3.0 MiB", "90.00%", "99.50%", "sum.example", "failing"):
        assert text in page
    assert "example.com/a" in page


def test_helpers() -> None:
    assert duration(5) == "5s"
    assert duration(3600) == "1h 0m 0s"
    assert size(None) == "unknown"
    assert size(512) == "512 B"
    assert size(2048) == "2.0 KiB"
    assert _status(download_success=0, download_failure=0).download_success_ratio is None
    assert UpstreamHealth("x").state == "idle"


async def test_served_at_root_with_live_numbers(tmp_path: Path) -> None:
    source = FakeSource()
    source.add(MOD, "v1.0.0")
    source.answers[("zip", MOD, "v1.1.0")] = UpstreamError("upstream answered 500")
    source.answers[("info", MOD, "v1.1.0")] = b'{"Version":"v1.1.0"}'
    app, _ = make_app(tmp_path, source, storage=str(tmp_path / "data"))
    routes.install(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for _ in range(2):
            assert (await c.get(f"/{MOD}/@v/v1.0.0.zip")).status_code == 200
        assert (await c.get(f"/{MOD}/@v/v1.1.0.zip")).status_code == 404
        r = await c.get("/")
        head = await c.head("/")
        post = await c.post("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert head.status_code == 200
    assert head.content == b""
    assert post.status_code == 405
    page = r.text
    assert "66.67%" in page  # 2 of 3 zip downloads succeeded
    assert "upstream answered 500" in page  # recent errors
    assert f"<code>{MOD}</code></td><td class=n>2</td>" in page  # top modules
    assert "memory" in page  # make_app's service uses a memory store
    assert "<code>fake</code>" in page  # the upstream's health row
