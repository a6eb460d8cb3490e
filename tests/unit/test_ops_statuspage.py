"""The status page at "/": served by the app, self-contained, showing what operators need."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from gomodproxy.checksumdb.database import SumdbUnavailable
from gomodproxy.errors import UpstreamError
from gomodproxy.ops import routes
from gomodproxy.ops.observe import RecentError
from gomodproxy.ops.statuspage import Status, UpstreamHealth, duration, render, size
from tests.unit.test_server import make_full_app
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
        "sumdb_unavailable": 0,
        "sumdb_last_error": None,
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


def test_sumdb_state() -> None:
    """A lookup failure shows as unreachable for five minutes; refusals win."""
    err = RecentError(1000.0, 502, "/m/@v/v1.0.0.zip", "sum.example: connection refused")
    assert _status().sumdb_state == "ok"
    recent = _status(sumdb_unavailable=1, sumdb_last_error=err, generated=1100.0)
    assert recent.sumdb_state == "unreachable"
    assert "connection refused" in render(recent).decode()
    assert _status(sumdb_last_error=err, generated=1400.0).sumdb_state == "ok"
    assert _status(verification_failures=2).sumdb_state == "refusals"


def test_upstream_health_window() -> None:
    """With earlier counts the state describes the requests since then, not the uptime."""
    counts = {("up", "success"): 10.0, ("up", "error"): 90.0}
    (failing,) = routes.upstream_health(counts)
    assert failing.state == "failing"
    later = {("up", "success"): 30.0, ("up", "error"): 91.0}
    (recovered,) = routes.upstream_health(later, baseline=counts)
    assert recovered.state == "ok"
    assert (recovered.errors, recovered.success) == (91, 30)
    (quiet,) = routes.upstream_health(later, baseline=later)
    assert quiet.state == "idle"


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
    source.answers[("mod", MOD, "v1.2.0")] = SumdbUnavailable("sum.example: no route to host")
    app, _ = make_full_app(tmp_path, source, storage=str(tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for _ in range(2):
            assert (await c.get(f"/{MOD}/@v/v1.0.0.zip")).status_code == 200
        assert (await c.get(f"/{MOD}/@v/v1.1.0.zip")).status_code == 404
        assert (await c.get(f"/{MOD}/@v/v1.2.0.mod")).status_code == 502
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
    assert "50.00%" in page  # 2 of 4 downloads succeeded
    assert "sum.example: no route to host" in page
    assert app.observers[0].sumdb_unavailable == 1  # type: ignore[attr-defined]
    assert "upstream answered 500" in page  # recent errors
    assert f"<code>{MOD}</code></td><td class=n>2</td>" in page  # top modules
    assert "memory" in page  # make_full_app's service uses a memory store
    assert "<code>fake</code>" in page  # the upstream's health row


async def test_private_paths_never_named(tmp_path: Path) -> None:
    """Downloads and failures of a private module are counted, but neither /metrics nor
    the status page names it; public modules are still listed."""
    private = "corp.example.com/secret"
    source = FakeSource()
    source.add(MOD, "v1.0.0")
    source.add(private, "v1.0.0")
    source.answers[("zip", private, "v1.1.0")] = UpstreamError(f"{private}: upstream 500")
    source.answers[("info", private, "v1.1.0")] = b'{"Version":"v1.1.0"}'
    app, _ = make_full_app(
        tmp_path, source, storage=str(tmp_path / "data"), goprivate="corp.example.com"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get(f"/{MOD}/@v/v1.0.0.zip")).status_code == 200
        assert (await c.get(f"/{private}/@v/v1.0.0.zip")).status_code == 200
        assert (await c.get(f"/{private}/@v/v1.1.0.zip")).status_code == 404
        metrics = (await c.get("/metrics")).text
        page = (await c.get("/")).text
    assert "secret" not in metrics
    assert 'gomodproxy_module_downloads_total{module="private"} 1' in metrics
    assert f'module="{MOD}"' in metrics
    assert "secret" not in page
    assert "(private modules)" in page
    assert "(a private module)" in page
    assert f"<code>{MOD}</code>" in page
