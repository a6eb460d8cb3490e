"""Single-flight across concurrent clients and worker processes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.fixtures import ModuleVersion, UpstreamServer, start_server, write_module

pytestmark = pytest.mark.e2e

ZIP = "/flight.test/m/@v/v1.0.0.zip"


def fixture(tmp_path: Path) -> tuple[Path, bytes]:
    mv = ModuleVersion("flight.test/m", "v1.0.0", {"data.bin": bytes(range(256)) * 4096})
    write_module(tmp_path / "tree", mv)
    return tmp_path / "tree", mv.zip_bytes()


def test_200_concurrent_requests_for_one_uncached_zip_fetch_it_once(tmp_path: Path) -> None:
    """200 clients at once, two workers, a slow upstream: one upstream fetch, 200 successes."""
    tree, expected = fixture(tmp_path)
    with UpstreamServer(tree) as upstream:
        upstream.delay = 0.5
        server = start_server(tmp_path / "data", upstream.url, workers=2)
        try:
            with ThreadPoolExecutor(max_workers=200) as pool:
                answers = list(pool.map(lambda _: server.get(ZIP), range(200)))
            time.sleep(1.5)  # each worker writes its metrics snapshot every second
            metrics = server.get("/metrics")[2].decode()
        finally:
            server.stop()
        # /metrics sums both workers.
        assert 'gomodproxy_http_requests_total{code="200",route="zip"} 200.0' in metrics
        assert 'artifact="zip",outcome="success"' in metrics
        assert [status for status, _, _ in answers] == [200] * 200
        assert all(body == expected for _, _, body in answers)
        assert upstream.count(ZIP) == 1
        assert len([r for r in server.log_lines() if r.get("route") == "zip"]) == 200


def test_two_processes_on_one_storage_fetch_once(tmp_path: Path) -> None:
    """Two server processes sharing a storage directory (as the workers of one server do):
    100 concurrent requests to each, one upstream fetch (the flock single-flight)."""
    tree, expected = fixture(tmp_path)
    with UpstreamServer(tree) as upstream:
        upstream.delay = 0.5
        servers = [start_server(tmp_path / "data", upstream.url) for _ in range(2)]
        try:
            with ThreadPoolExecutor(max_workers=200) as pool:
                answers = list(pool.map(lambda i: servers[i % 2].get(ZIP), range(200)))
        finally:
            for server in servers:
                server.stop()
        assert [status for status, _, _ in answers] == [200] * 200
        assert all(body == expected for _, _, body in answers)
        assert upstream.count(ZIP) == 1
        # Both processes found storage empty (a "miss") and went for the fetch: one fetched,
        # the other waited on the lock and then found the stored zip.
        for server in servers:
            caches = {r["cache"] for r in server.log_lines() if r.get("route") == "zip"}
            assert "miss" in caches
