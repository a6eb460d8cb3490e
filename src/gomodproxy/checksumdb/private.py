"""A private checksum database served by the proxy at ``/sumdb/<name>/...``.

Theory of operation
-------------------
The log's records live in storage under ``_meta/sumdb-private/<name>/records``: each record
text followed by a blank line, in log order (the data-tile format, so the blob is also an
audit trail). Every worker keeps a ``sumdb.server.Log`` in memory and catches up with the
blob (which only grows) before answering. A lookup of a module version the log does not hold
yet, whose path matches the configured patterns, fetches the version through the proxy
service (so the zip is checked and hashed like any other), then appends its record while
holding a host-wide lock (``flock``) so that two workers never give two records one id.
Versions that do not match the patterns are 404: the database vouches only for what it was
configured to cover (``*`` covers everything; public modules are then verified against the
public database on ingest before this log records them).

Tree notes are signed when served; Ed25519 is deterministic, so a tree is always signed with
the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from gomodproxy.checksumdb.remote import RemoteResponse
from gomodproxy.errors import NotFound
from gomodproxy.gomod.globs import match_prefix_patterns
from gomodproxy.localfs import filelock
from gomodproxy.ports.storage import BlobStore
from gomodproxy.sumdb import note
from gomodproxy.sumdb.server import Log, gosum_record, parse_lookup
from gomodproxy.sumdb.tile import parse_tile_path

#: (path, version) → (zip h1, go.mod h1), fetched and validated by the proxy service.
HashFetcher = Callable[[str, str], Awaitable[tuple[str, str]]]

_TEXT = "text/plain; charset=UTF-8"
_BINARY = "application/octet-stream"


class PrivateSumdb:
    """A checksum database whose log this proxy keeps and signs."""

    def __init__(
        self,
        signer: note.Signer,
        store: BlobStore,
        *,
        patterns: str,
        fetch_hashes: HashFetcher,
        lock_dir: Path | None = None,
    ) -> None:
        self.signer = signer
        self.name = signer.name
        self.store = store
        self.patterns = patterns
        self.fetch_hashes = fetch_hashes
        self.lock_dir = lock_dir
        self.log = Log()
        self._loaded = 0
        self._lock = asyncio.Lock()

    @property
    def records_key(self) -> str:
        return f"_meta/sumdb-private/{self.name}/records"

    async def _sync(self, *, read: bool = False) -> bytes:
        """Catch up with the stored log (which only grows); with ``read``, return its bytes."""
        if not read:
            info = await self.store.stat(self.records_key)
            if info is None or info.size <= self._loaded:
                return b""
        data = await self.store.get(self.records_key) or b""
        if len(data) > self._loaded:
            for text in data[self._loaded :].split(b"\n\n")[:-1]:
                self.log.append(text + b"\n")
            self._loaded = len(data)
        return data

    async def handle(self, endpoint: str) -> RemoteResponse:
        """Answer ``/sumdb/<name>/<endpoint>``.

        Raises:
            InvalidInput: a malformed lookup or tile path (400).
            NotFound: an unknown version or a tile beyond the tree (404).
        """
        if endpoint == "supported":
            return RemoteResponse(200, _TEXT, b"")
        if endpoint == "latest":
            await self._sync()
            return RemoteResponse(200, _TEXT, self.log.signed_tree(self.signer))
        if endpoint.startswith("lookup/"):
            path, version = parse_lookup(endpoint.removeprefix("lookup/"))
            record_id = await self._record(path, version)
            body = self.log.lookup_body(record_id, self.log.signed_tree(self.signer))
            return RemoteResponse(200, _TEXT, body)
        if endpoint.startswith("tile/"):
            t = parse_tile_path(endpoint)
            await self._sync()
            return RemoteResponse(200, _TEXT if t.l == -1 else _BINARY, self.log.tile(t))
        raise NotFound(f"not found: /sumdb/{self.name}/{endpoint}")

    async def _record(self, path: str, version: str) -> int:
        await self._sync()
        try:
            return self.log.find(path, version)
        except NotFound:
            if not match_prefix_patterns(self.patterns, path):
                raise NotFound(
                    f"not found: {path}@{version} is not covered by checksum database {self.name}"
                ) from None
        zip_h1, mod_h1 = await self.fetch_hashes(path, version)
        return await self.append(gosum_record(path, version, zip_h1, mod_h1))

    async def append(self, text: bytes) -> int:
        """Append a record (or find the identical one) and persist the log; its id."""
        async with self._lock, self._host_lock():
            stored = await self._sync(read=True)
            size = self.log.size
            record_id = self.log.append(text)
            if self.log.size > size:
                # Persist before anyone can sign a tree containing the record.
                try:
                    await self.store.put(self.records_key, stored + text + b"\n")
                except BaseException:
                    self.log, self._loaded = Log(), 0  # forget the unpersisted record
                    raise
                self._loaded = len(stored) + len(text) + 1
            return record_id

    def _host_lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The lock the workers of this host take to append (none without ``lock_dir``)."""
        if self.lock_dir is None:
            return contextlib.nullcontext()
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        safe = self.name.replace("/", "_")
        return filelock.held(self.lock_dir / f"sumdb-private-{safe}.lock")
