"""Single-flight across concurrent clients and worker processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.fixtures import ModuleVersion, UpstreamServer, start_server, write_module

pytestmark = pytest.mark.e2e


def test_200_concurrent_requests_for_one_uncached_zip_fetch_it_once(tmp_path: Path) -> None:
    """200 clients at once, two workers, a slow upstream: one upstream fetch, 200 successes."""
    mv = ModuleVersion("flight.test/m", "v1.0.0", {"data.bin": bytes(range(256)) * 4096})
    tree = tmp_path / "tree"
    write_module(tree, mv)
    expected = mv.zip_bytes()
    with UpstreamServer(tree) as upstream:
        upstream.delay = 0.5
        server = start_server(tmp_path / "data", upstream.url, workers=2)
        try:
            with ThreadPoolExecutor(max_workers=200) as pool:
                answers = list(
                    pool.map(lambda _: server.get("/flight.test/m/@v/v1.0.0.zip"), range(200))
                )
        finally:
            server.stop()
        assert [status for status, _, _ in answers] == [200] * 200
        assert all(body == expected for _, _, body in answers)
        assert upstream.count("/flight.test/m/@v/v1.0.0.zip") == 1
        lines = [r for r in server.log_lines() if r.get("route") == "zip"]
        assert len(lines) == 200
        # Both worker processes answered: the flock single-flight was really exercised.
        assert len({str(r["request_id"]).split("-")[0] for r in lines}) == 2
