"""Upstream response bodies decoded under a bound, whatever their Content-Encoding says.

A compressed body can inflate a thousandfold: a 300 KB gzip answer to an ``.info`` request
is 300 MB of zeros. httpx decodes each network chunk whole before our size check sees it,
so one chunk could cost hundreds of MiB before being refused. Here the raw bytes are
inflated at most ``MAX_STEP`` bytes at a time, and the decoded total is checked after every
step, so a body costs at most its limit plus one step of memory. ``gzip`` (and ``x-gzip``)
and ``deflate`` (zlib-wrapped or raw, as browsers and httpx accept it) are decoded; any
other coding is refused (the client only offers ``gzip``).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Iterator

import httpx

from gomodproxy.errors import UpstreamError

#: Most bytes one inflate step may produce.
MAX_STEP = 1 << 20
#: What the upstream client offers (``Accept-Encoding``).
ACCEPT_ENCODING = "gzip"


class TooLarge(UpstreamError):
    """A body decoded past its limit."""


def _codings(response: httpx.Response) -> list[str]:
    header = response.headers.get("content-encoding", "")
    return [
        c.strip().lower() for c in header.split(",") if c.strip().lower() not in ("", "identity")
    ]


async def bounded_chunks(response: httpx.Response, limit: int, what: str) -> AsyncIterator[bytes]:
    """The decoded body of ``response`` in pieces, refusing past ``limit`` decoded bytes.

    Raises:
        TooLarge: more than ``limit`` decoded bytes.
        UpstreamError: an unsupported or broken Content-Encoding.
    """
    if response.is_stream_consumed:  # read already (a test transport's ready body)
        if len(response.content) > limit:
            raise TooLarge(f"{what} is larger than {limit} bytes")
        yield response.content
        return
    codings = _codings(response)
    size = 0
    if not codings:
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{what} is larger than {limit} bytes")
            yield chunk
        return
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise UpstreamError(f"{what}: unsupported Content-Encoding {', '.join(codings)!r}")
    inflater = _Inflater(codings[0] != "deflate")
    async for raw in response.aiter_raw():
        for n, piece in enumerate(inflater.feed(raw, what)):
            size += len(piece)
            if size > limit:
                raise TooLarge(f"{what} is larger than {limit} bytes")
            if n:
                await asyncio.sleep(0)  # one network chunk inflating far: let others run
            yield piece
    if not inflater.done:
        raise UpstreamError(f"{what}: truncated {codings[0]} body")


class _Inflater:
    def __init__(self, gzip: bool) -> None:
        self.gzip = gzip
        self.started = False
        self.obj = zlib.decompressobj(31 if gzip else 15)

    @property
    def done(self) -> bool:
        return self.obj.eof

    def feed(self, data: bytes, what: str) -> Iterator[bytes]:
        """Inflate ``data`` lazily; each piece is at most ``MAX_STEP`` bytes, so a caller that
        stops iterating (past its limit) stops the inflating too."""
        while not self.obj.eof:  # bytes after the end of the stream are ignored, as httpx
            try:
                out = self.obj.decompress(data, MAX_STEP)
            except zlib.error as exc:
                if self.gzip or self.started:
                    raise UpstreamError(f"{what}: broken compressed body: {exc}") from None
                # "deflate" sent as raw deflate, without the zlib wrapper.
                self.obj = zlib.decompressobj(-15)
                self.started = True
                continue
            self.started = True
            data = self.obj.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < MAX_STEP:
                return  # all input used and no output pending
