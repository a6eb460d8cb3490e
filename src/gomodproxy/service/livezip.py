"""A cold zip streamed to clients while it is still being fetched.

Theory of operation
-------------------
When a zip is not stored yet, ``ProxyService`` fetches it into a temporary file, checks it,
hashes it, verifies the hash against the checksum database and only then stores it. Without
streaming, the first client waits for all of that before the first byte. ``LiveZip`` lets
clients read the temporary file while it grows, but never its last ``HOLD`` bytes: those (and
with them the zip's central directory, without which no zip can be opened) are released only
once the fetch has been checked, verified and stored. If anything fails, readers get the
error instead of the tail: the server aborts the connection, so no client ever holds a
complete unverified zip, and nothing is stored.

Streaming starts only when more than ``start_after`` bytes (at least ``HOLD``; the service's
``stream_cold_zips_after``, 32 MiB by default) that begin like a zip (``PK\\x03\\x04``) have
arrived; until then a request waits as before, so zips up to that size, errors that happen
early and garbage answer with a proper status and message: a checksum mismatch is a 403
whose reason the go command prints, not a connection cut mid-body.

Readers share file descriptors (``os.pread`` needs no shared offset), which stay valid when
the file is renamed into storage or unlinked; they are closed when the fetch is over and the
last reader has finished. If a source replaces the file (a chain trying its next entry), a
reader that already sent bytes of the old one fails rather than splice two downloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gomodproxy.errors import UpstreamError

#: Bytes held back until the zip is verified: more than any end-of-central-directory record
#: (22 bytes + a comment of at most 64 KiB), so the zip cannot be opened before.
HOLD = 66 * 1024
_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 20
_POLL = 0.01
#: How often a waiting request looks again at most, before streaming starts: most zips end
#: (and wake it at once) before they reach the start size, so looking every 10 ms all along
#: costs a cold fill more than it saves the few large ones (their first byte comes later by
#: at most this).
_POLL_MAX = 0.2


class LiveZip:
    """The bytes of one zip being fetched, for any number of readers."""

    def __init__(self, key: str, start_after: int = 0) -> None:
        self.key = key
        #: Streaming starts once more than this many bytes (and ``HOLD``) have arrived.
        self.start_after = max(HOLD, start_after)
        self._path: Path | None = None
        #: Descriptors of the download file by inode: a source may replace the file (a chain
        #: unlinks it before trying its next entry). All are closed once nobody reads.
        self._fds: dict[int, int] = {}
        self._latest = -1  # inode of the newest download file seen
        self._users = 1  # the fetch itself
        self._done = asyncio.Event()
        self._error: BaseException | None = None
        #: The stored artifact, once the fetch succeeded (``data`` or ``store`` + ``key``).
        self.final: Any = None

    def attach(self, tmp: Path) -> None:
        """Watch the temporary file the fetch writes: called right after it is created, and
        again once the source is done with it, so that the file checked and stored is the
        last one seen even when no reader looked while the source replaced it."""
        self._path = tmp
        self._current()

    def finish(self, artifact: Any) -> None:
        """The zip is checked, verified and stored: release the tail."""
        self.final = artifact
        self._end()

    def fail(self, exc: BaseException) -> None:
        """The fetch failed: readers get ``exc`` instead of the tail."""
        self._error = exc
        self._end()

    def _end(self) -> None:
        self._done.set()
        self._release()

    def _release(self) -> None:
        self._users -= 1
        if self._users == 0:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def _current(self) -> tuple[int, int, int]:
        """(inode, descriptor, size) of the download file now; (-1, -1, 0) if none yet."""
        if self._path is not None and not self._done.is_set():
            try:
                fd = os.open(self._path, os.O_RDONLY)
            except FileNotFoundError:
                pass
            else:
                ino = os.fstat(fd).st_ino
                if ino in self._fds:
                    os.close(fd)
                else:
                    self._fds[ino] = fd
                self._latest = ino
        if self._latest < 0:
            return -1, -1, 0
        fd = self._fds[self._latest]
        return self._latest, fd, os.fstat(fd).st_size

    async def streamable(self) -> bool:
        """Wait until streaming can start (True) or the fetch is over (False; then ``final``
        holds the artifact, or the fetch's error is raised)."""
        delay = _POLL
        while not self._done.is_set():
            _, fd, size = self._current()
            if size > self.start_after and os.pread(fd, 4, 0) == _MAGIC:
                return True
            with contextlib.suppress(TimeoutError):
                # A timeout scope, not wait_for: no task per look.
                async with asyncio.timeout(delay):
                    await self._done.wait()
            delay = min(delay * 2, _POLL_MAX)
        if self._error is not None:
            raise self._error
        return False

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The zip's bytes ``[start, end)``, as a ``BlobStore`` streams them; the last ``HOLD``
        bytes only after verification. Raises the fetch's error if it failed."""
        if end is not None and end < 0:
            end = None
        self._users += 1
        try:
            offset = start
            reading = -1  # the inode this reader has sent bytes of
            while not self._done.is_set():
                ino, fd, size = self._current()
                if reading >= 0 and ino != reading:
                    raise UpstreamError(f"{self.key}: the upstream download started over")
                limit = size - HOLD if end is None else min(size - HOLD, end)
                if limit > offset:
                    n = min(limit - offset, _CHUNK)
                    data = await asyncio.to_thread(os.pread, fd, n, offset)
                    offset += len(data)
                    reading = ino
                    yield data
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._done.wait(), _POLL)
            if self._error is not None:
                raise self._error
            if reading >= 0 and reading != self._latest:
                # Replaced after this reader's last look: what was stored is another download.
                raise UpstreamError(f"{self.key}: the upstream download started over")
            final = self.final
            if final.data is not None:
                if offset < len(final.data):
                    yield final.data[offset:end]
                return
            async for chunk in final.store.stream(final.key, offset, end):
                yield chunk
        finally:
            self._release()
