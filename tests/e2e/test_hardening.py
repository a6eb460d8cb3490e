"""A running ``gomodproxy serve`` under hostile clients: long request lines, impossible
paths, and, while each is played, a /healthz probe showing the event loop still answers.

Every client here is a raw socket, so nothing between the test and the server shortens,
escapes or refuses what is sent.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.fixtures import Server, start_server
from tests.e2e.probe import HealthzProbe, raw_get, status_of

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    srv = start_server(tmp_path / "store", upstream.as_uri())
    yield srv
    srv.stop()


def _port(server: Server) -> int:
    return int(urlsplit(server.url).port or 0)


def _records(server: Server, needle: str) -> list[dict[str, object]]:
    return [r for r in server.log_lines() if needle in str(r.get("path", ""))]


def test_long_request_paths_answer_404_at_once(server: Server) -> None:
    """Paths far longer than any module's (up to granian's request-line limit) are 404
    "not found" after a length check: six at once leave /healthz answering."""
    port = _port(server)
    targets = [f"/ex.com/{'a' * n}/@v/list" for n in (30_000, 60_000, 60_000, 60_000, 60_000)]
    targets.append("/" + "a" * 60_000 + "://x/@v/list")
    with (
        HealthzProbe(port, "long request paths") as probe,
        concurrent.futures.ThreadPoolExecutor(len(targets)) as pool,
    ):
        answers = list(pool.map(lambda t: raw_get(port, t), targets))
    assert probe.ok
    for answer in answers:
        assert status_of(answer) == 404, answer[:300]
        assert b"is longer than 4096" in answer


@pytest.mark.parametrize(
    "target",
    [
        "/ex.com/" + "a" * 300 + "/@v/list",
        "/ex.com/m/@v/v1.0.0-" + "a" * 300 + ".info",
        "/ex.com/m/@v/v1.0.0-" + "a" * 300 + ".zip",
        "/sumdb/sum.golang.org/lookup/ex.com/" + "a" * 300 + "@v1.0.0",
    ],
    ids=["module-element", "query-version", "zip-version", "sumdb-lookup"],
)
def test_elements_too_long_for_a_file_name_are_the_clients_fault(
    server: Server, target: str
) -> None:
    """An element over 255 bytes (ENAMETOOLONG on disk) is 404, never a 503 storage fault,
    and never counts against the SLI."""
    answer = raw_get(_port(server), target)
    assert status_of(answer) == 404, answer[:300]
    status, _, metrics = server.get("/metrics")
    assert status == 200
    text = metrics.decode()
    assert 'status="503"' not in text
    server.stop()  # the request log is written in batches: all of it is out at exit
    records = _records(server, "a" * 300)
    assert records
    assert all(r["status"] == 404 for r in records)
    assert all(r.get("sli", "success") != "failure" for r in records), json.dumps(records)


def test_banner_masks_upstream_credentials(tmp_path: Path) -> None:
    """The start-up line names the upstream without its user-info, as ``config show``."""
    srv = start_server(tmp_path / "store", "http://ci-user:s3cr3t-token@127.0.0.1:9/,off")
    srv.stop()
    text = srv.log_path.read_text()
    assert "upstream http://***@127.0.0.1:9/,off" in text
    assert "s3cr3t-token" not in text
    assert "ci-user" not in text


def _normalised(response: bytes, path: str) -> bytes:
    """A raw response without its Date header, with ``path`` replaced by a placeholder."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
    return (
        b"\r\n".join(lines).replace(path.encode(), b"<p>")
        + b"\r\n\r\n"
        + body.replace(path.encode(), b"<p>")
    )


def test_private_and_absent_answers_are_identical_on_the_wire(tmp_path: Path) -> None:
    """With access rules on, an anonymous raw-socket client cannot tell a private module
    from an absent one: status line, headers and body agree once the path is set aside."""
    from gomodproxy.security.users import add_user

    creds = tmp_path / "creds.json"
    add_user(creds, "alice", password="pw-a")
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    env = {
        "GOMODPROXY_AUTH_FILE": str(creds),
        "GOMODPROXY_ACCESS_RULES": "corp.example.com/secret=alice",
    }
    srv = start_server(tmp_path / "store", upstream.as_uri(), env=env)
    try:
        port = _port(srv)
        for suffix in ("@v/list", "@latest", "@v/v1.0.0.info", "@v/v1.0.0.zip"):
            secret, absent = "corp.example.com/secret", "corp.example.com/absent"
            private = raw_get(port, f"/{secret}/{suffix}")
            missing = raw_get(port, f"/{absent}/{suffix}")
            assert status_of(private) == 404
            assert _normalised(private, secret) == _normalised(missing, absent), (
                private,
                missing,
            )
            head = private.partition(b"\r\n\r\n")[0].lower()
            assert b"cache-control: public, max-age=60" in head
    finally:
        srv.stop()
