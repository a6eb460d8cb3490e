"""Error text an upstream sends reaches clients as one clean line, never verbatim."""

from __future__ import annotations

import pytest

from gomodproxy.checksumdb.remote import RemoteResponse
from gomodproxy.errors import NotFound, UpstreamError
from gomodproxy.server.http_errors import error_response
from gomodproxy.server.sumdb_routes import SumdbRoutes
from gomodproxy.sources.proxy import reason_from_body

HOSTILE_BODIES = [
    b"not found: x\x1b[2J\x1b[31mgo: SECURITY OK\n",
    b"bad\x00gateway",
    b"\x7f\x08\x08\x08done",
    b"line\rrewritten",
    b"\xe2\x80\xaereversed text",  # U+202E, right-to-left override
    b"https://alice:s3cr3t@git.corp/x",
    b"x" * 5000,
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_relayed_reason_is_printable_and_bounded(body: bytes) -> None:
    """The proxy client's reason holds no control or format character and at most 512."""
    reason = reason_from_body(body, "fallback")
    assert reason.isprintable()
    assert len(reason) <= 512
    for exc in (NotFound(reason), UpstreamError(reason)):
        _, line, _ = error_response(exc)
        text = line.decode()
        assert text.endswith("\n")
        assert text[:-1].isprintable()
        assert "s3cr3t" not in text


class _Database:
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def passthrough(self, endpoint: str) -> RemoteResponse:
        return RemoteResponse(404, "text/html", self.body)


@pytest.mark.parametrize("body", HOSTILE_BODIES)
async def test_sumdb_error_bodies_are_not_relayed_verbatim(body: bytes) -> None:
    """A checksum database's error body becomes one printable text/plain line."""
    routes = SumdbRoutes({"sum.example": _Database(body)})  # type: ignore[dict-item]
    status, headers, answer = await routes.answer("/sumdb/sum.example/lookup/x.test/m@v1.0.0")
    assert status == 404
    assert dict(headers)[b"content-type"] == b"text/plain; charset=utf-8"
    text = answer.decode()
    assert text.endswith("\n")
    assert text[:-1].isprintable()
    assert len(text) <= 601
    assert "s3cr3t" not in text
