"""``gomodproxy serve`` writes one log line per request, its JSON line: httpx stays quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.fixtures import UpstreamServer, start_server

pytestmark = pytest.mark.e2e


def test_upstream_fetch_logs_only_the_json_request_line(tmp_path: Path) -> None:
    root = tmp_path / "upstream"
    (root / "example.com/a/@v").mkdir(parents=True)
    (root / "example.com/a/@v/list").write_text("v1.0.0\n")
    with UpstreamServer(root) as up:
        server = start_server(tmp_path / "store", up.url)
        try:
            status, _, body = server.get("/example.com/a/@v/list")
        finally:
            server.stop()
        assert up.count("/example.com/a/@v/list") == 1  # the request did go upstream
    assert (status, body) == (200, b"v1.0.0\n")
    text = server.log_path.read_text()
    paths = [r["path"] for r in server.log_lines()]
    assert paths[-1] == "/example.com/a/@v/list"
    assert set(paths[:-1]) <= {"/healthz"}  # the readiness probe of start_server
    assert "httpx" not in text, text
    assert " INFO " not in text, text
