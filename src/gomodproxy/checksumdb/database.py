"""One proxied checksum database: verified lookups for the ingest verifier, and verbatim
passthrough of ``/sumdb/<name>/...`` for clients.

Theory of operation
-------------------
``SumdbDatabase.lookup`` drives the pure ``sumdb.client.Client`` flow: it answers the flow's
requests from storage and the network. Storage keys mirror the go command's cache:

- ``sumdb/<name>/lookup/<path>@<version>``  lookup responses (written once verified);
- ``sumdb/<name>/tile/8/<L>/<N>[.p/<W>]``   tiles (full tiles are immutable);
- ``_meta/sumdb/<name>/latest``             the newest signed tree this proxy verified: the
  fork-detection memory, never cleaned;
- ``_meta/sumdb/<name>/fork``               written when a fork is detected (the SECURITY
  ERROR report). While it exists the database is quarantined: nothing is verified against
  it, and ingest fails closed, until an operator has looked and deletes the key.

Tiles are read cache first, then remote (exact width, then the full tile truncated), fetched
concurrently. Cached tiles are authenticated like fresh ones; if authentication fails while
cached tiles were used, the lookup is retried once from the network only, so a bad cache
entry cannot wedge verification.

Passthrough (``passthrough``): bytes are forwarded unmodified (signatures cover them). Full
hash tiles are stored forever once they check out against the tree this proxy verified (else
they are forwarded but not stored); ``latest``, lookups and partial tiles are fresh for ``ttl``
seconds, and served stale while the database cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gomodproxy.checksumdb.remote import RemoteResponse, SumdbRemote
from gomodproxy.config.settings import CacheSettings
from gomodproxy.errors import (
    GoModProxyError,
    InvalidInput,
    NotFound,
    UpstreamError,
    VerificationError,
)
from gomodproxy.ports.cache import SingleFlight
from gomodproxy.ports.storage import BlobStore
from gomodproxy.sumdb import client as flow
from gomodproxy.sumdb.server import parse_lookup
from gomodproxy.sumdb.tile import Tile, full_tile, parse_tile_path, tile_hash
from gomodproxy.sumdb.tlog import stored_hash_index

T = TypeVar("T")
#: Verified records and full tiles kept in memory (a record is a few hundred bytes, a full
#: tile 8 KiB: at most about 1 MiB and 8 MiB).
RECORDS_KEPT = 4096
TILES_KEPT = 1024
security_log = logging.getLogger("gomodproxy.security")

_TEXT = "text/plain; charset=UTF-8"
_BINARY = "application/octet-stream"


class SumdbUnavailable(UpstreamError):
    """The checksum database cannot be asked: a 502, never a silent pass or a 404 that would
    send the client elsewhere."""

    http_status_hint = 502


class Quarantined(SumdbUnavailable):
    """The database showed a fork earlier; it is not used until an operator acts."""


@dataclass
class _Run:
    """What one run of a flow did: whether it may read, and did read, cached data, and which
    tiles came from the network (only those are saved once authenticated)."""

    use_cache: bool
    used_cache: bool = False
    fetched: set[Tile] = field(default_factory=set)


class SumdbDatabase:
    """A checksum database this proxy verifies against and passes through."""

    def __init__(
        self,
        remote: SumdbRemote,
        store: BlobStore,
        *,
        key: str,
        ttl: float = CacheSettings.list_ttl,
        clock: Callable[[], float] = time.time,
        offline: bool = False,
        flight: SingleFlight | None = None,
    ) -> None:
        self.remote = remote
        self.store = store
        self.client = flow.Client(key)
        self.name = self.client.name
        self.key = key
        self.ttl = ttl
        self.clock = clock
        #: Never reach the database: answer from storage only (an air-gapped proxy).
        self.offline = offline
        #: Verified records by (path, version without /go.mod): a record never changes, and
        #: the go.mod and the zip of a version are checked against the same one.
        self._records: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
        self._record_flights: dict[tuple[str, str], asyncio.Task[list[str]]] = {}
        self._forked: dict[tuple[str, str], asyncio.Task[list[str]]] = {}
        #: Full tiles (immutable) read or authenticated, and tile reads in flight.
        self._tiles: OrderedDict[str, bytes] = OrderedDict()
        self._tile_flights: dict[str, asyncio.Task[bytes]] = {}
        self._checked_fork = -1e9  # time.monotonic() of the last look for the fork marker
        #: Lookups across the worker processes sharing it: a version's go.mod and zip often
        #: reach two workers at once; the second waits for the first, then finds its stored
        #: answer (``ReadCache``) instead of asking the database again.
        self.flight = flight

    # -- keys --------------------------------------------------------------------------

    def _cache_key(self, key: str) -> str:
        return f"sumdb/{key}"

    @property
    def fork_key(self) -> str:
        return f"_meta/sumdb/{self.name}/fork"

    # -- verified lookups ----------------------------------------------------------------

    def prefetch(self, path: str, version: str) -> None:
        """Start looking up ``path@version`` now, so that the answer is there by the time the
        artifact has been downloaded and hashed (an error is left for ``lookup`` to meet)."""
        key = (path, version.removesuffix("/go.mod"))
        if key not in self._records and key not in self._record_flights:
            self._record_flight(path, version, key)

    def _record_flight(
        self, path: str, version: str, key: tuple[str, str]
    ) -> asyncio.Task[list[str]]:
        if self.flight is None:
            task = asyncio.ensure_future(self._lookup_record(path, version))
        else:
            task = asyncio.ensure_future(
                self.flight.run(
                    f"sumdb/{self.name}/lookup/{key[0]}@{key[1]}",
                    lambda: self._lookup_record(path, version),
                )
            )
        self._record_flights[key] = task

        def done(t: asyncio.Task[list[str]]) -> None:
            self._record_flights.pop(key, None)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is None:
                self._records[key] = t.result()
                while len(self._records) > RECORDS_KEPT:
                    self._records.popitem(last=False)
            elif isinstance(exc, flow.ForkDetected):
                # The lookup that asked for this version is told, not just "quarantined".
                self._forked[key] = t

        task.add_done_callback(done)
        return task

    async def lookup(self, path: str, version: str) -> list[str]:
        """The verified go.sum lines of ``path version`` (version may end in ``/go.mod``).

        Raises:
            Quarantined: a fork was detected earlier.
            VerificationError: the database's answer does not authenticate; ForkDetected.
            NotFound: the database does not know the version.
            UpstreamError: the database could not be reached.
        """
        key = (path, version.removesuffix("/go.mod"))
        lines = self._records.get(key)
        if lines is not None:
            await self._not_quarantined()
            self._records.move_to_end(key)
            return flow.record_lines(lines, path, version)
        pending = self._record_flights.get(key) or self._forked.pop(key, None)
        if pending is not None:
            try:
                return flow.record_lines(await asyncio.shield(pending), path, version)
            except flow.ForkDetected:
                self._forked.pop(key, None)  # told once; later lookups meet the quarantine
                raise
            except GoModProxyError:
                pass  # its error speaks of its own lookup: ask again, for ours
        return flow.record_lines(
            await asyncio.shield(self._record_flight(path, version, key)), path, version
        )

    async def _not_quarantined(self) -> None:
        # One storage read a second at most: another process may write the marker.
        now = time.monotonic()
        if now - self._checked_fork < 1.0:
            return
        report = await self.store.get(self.fork_key)
        if report is None:
            self._checked_fork = now
        if report is not None:
            raise Quarantined(
                f"checksum database {self.name} is quarantined: it was caught serving "
                f"inconsistent trees; see the security log, then delete {self.fork_key} "
                "from storage to resume",
                source=self.name,
            )

    async def _lookup_record(self, path: str, version: str) -> list[str]:
        await self._not_quarantined()
        try:
            first = _Run(use_cache=True)
            try:
                return await self._run(self.client.lookup_record(path, version), first)
            except flow.ForkDetected:
                raise
            except VerificationError:
                if not first.used_cache:
                    raise
                # A cached tile or lookup may be bad: ask the network only, once.
                return await self._run(
                    self.client.lookup_record(path, version), _Run(use_cache=False)
                )
        except flow.ForkDetected as exc:
            security_log.critical(
                "checksum database %s misbehaves: fork detected while looking up %s@%s\n%s",
                self.name,
                path,
                version,
                exc.report,
            )
            await self.store.put(self.fork_key, exc.report.encode())
            self._checked_fork = -1e9
            raise

    async def _run(self, gen: flow.Flow[T], run: _Run) -> T:
        # Flows may run concurrently: the client re-checks its timeline after every wait.
        answer: Any = None
        error: BaseException | None = None
        while True:
            try:
                req = gen.throw(error) if error is not None else gen.send(answer)
            except StopIteration as stop:
                result: T = stop.value
                return result
            answer, error = None, None
            try:
                answer = await self._answer(req, run)
            except GoModProxyError as exc:
                error = exc

    async def _answer(self, req: flow.Request, run: _Run) -> Any:
        if isinstance(req, flow.ReadRemote):
            if self.offline:
                raise SumdbUnavailable(f"{self.name}{req.path}: not stored (offline)")
            return await self.remote.read(req.path)
        if isinstance(req, flow.ReadCache):
            if not run.use_cache:
                return None
            data = await self.store.get(self._cache_key(req.key)) or None
            run.used_cache |= data is not None
            return data
        if isinstance(req, flow.WriteCache):
            await self.store.put(self._cache_key(req.key), req.data)
            return None
        if isinstance(req, flow.ReadConfig):
            return await self.store.get(f"_meta/sumdb/{req.key}") or b""
        if isinstance(req, flow.WriteConfig):
            key = f"_meta/sumdb/{req.key}"
            # BlobStore has no compare-and-swap; compare, then write. A lost race leaves an
            # older (still consistent) tree, which only weakens fork detection a little.
            if (await self.store.get(key) or b"") != req.old:
                return False
            await self.store.put(key, req.new)
            return True
        if isinstance(req, flow.ReadTiles):
            return await asyncio.gather(*(self._read_tile(t, run) for t in req.tiles))
        if isinstance(req, flow.SaveTiles):
            # At once, not one after another: each write waits for its fsyncs, and the
            # lookup (and the zip waiting for it) waits for all of them.
            await asyncio.gather(
                *(
                    self.store.put(self._cache_key(f"{self.name}/{t.path()}"), data)
                    for t, data in zip(req.tiles, req.data, strict=True)
                    if t in run.fetched
                )
            )
            for t, data in zip(req.tiles, req.data, strict=True):
                self._keep_tile(t, data)
            return None
        raise InvalidInput(f"unknown sumdb request {req!r}")  # pragma: no cover

    async def _read_tile(self, t: Tile, run: _Run) -> bytes:
        full = full_tile(t)
        want = t.w * 32
        if run.use_cache:
            # The widest copy of this tile seen (a narrower one is a prefix of it).
            kept = self._tiles.get(full.path())
            if kept is not None and len(kept) >= want:
                self._tiles.move_to_end(full.path())
                run.used_cache = True
                return kept[:want]
            # A narrower copy in memory means the tree grew since: storage will not have
            # this width either (unless another process fetched it), the network has.
            data = None if kept is not None else await self.stored_tile(t, wider=self.offline)
            if data is not None:
                run.used_cache = True
                self._keep_tile(t, data)
                return data
        if self.offline:
            raise SumdbUnavailable(f"{self.name}: tile {t.path()} is not stored (offline)")
        # Concurrent lookups need the same tiles: one network read each.
        name = t.path()
        task = self._tile_flights.get(name)
        if task is None:
            task = asyncio.ensure_future(self._fetch_tile(t, full, want))
            self._tile_flights[name] = task
            task.add_done_callback(lambda _t: self._tile_flights.pop(name, None))
        data = await asyncio.shield(task)
        run.fetched.add(t)
        return data

    async def _fetch_tile(self, t: Tile, full: Tile, want: int) -> bytes:
        try:
            return await self.remote.read("/" + t.path())
        except NotFound:
            if t == full:
                raise
            return (await self.remote.read("/" + full.path()))[:want]

    def _keep_tile(self, t: Tile, data: bytes) -> None:
        """Keep an authenticated (or stored, hence once authenticated) tile in memory, under
        its full tile's name: the widest copy wins."""
        name = full_tile(t).path()
        if len(data) == t.w * 32 and len(data) > len(self._tiles.get(name, b"")):
            self._tiles[name] = data
            while len(self._tiles) > TILES_KEPT:
                self._tiles.popitem(last=False)

    async def stored_tile(self, t: Tile, *, wider: bool = True) -> bytes | None:
        """Tile ``t`` from storage: stored as is, or a prefix of the full tile or (with
        ``wider``; it costs a listing) of a wider partial one at the same place (a tile of a
        smaller tree is a prefix of the same tile of a larger tree)."""
        want = t.w * 32
        full = full_tile(t)
        for candidate in (t, full) if t != full else (t,):
            data = await self.store.get(self._cache_key(f"{self.name}/{candidate.path()}"))
            if data and len(data) >= want:
                return data[:want]
        if t == full or not wider:
            return None
        prefix = self._cache_key(f"{self.name}/{full.path()}.p/")
        async for key in self.store.list(prefix):
            width = key[len(prefix) :]
            if width.isdigit() and int(width) > t.w:
                data = await self.store.get(key)
                if data and len(data) >= want:
                    return data[:want]
        return None

    # -- passthrough -----------------------------------------------------------------------

    async def passthrough(self, endpoint: str) -> RemoteResponse:
        """Answer ``/sumdb/<name>/<endpoint>`` verbatim, from storage when fresh enough.

        Raises:
            InvalidInput: an endpoint this proxy does not forward.
            UpstreamError: the database could not be reached.
        """
        if endpoint == "supported":
            return RemoteResponse(200, _TEXT, b"")
        immutable = False
        content_type = _TEXT
        if endpoint.startswith("lookup/"):
            # As the x/mod server checks it; it also keeps storage keys free of "..".
            parse_lookup(endpoint.removeprefix("lookup/"))
        elif endpoint == "latest":
            pass
        elif endpoint.startswith("tile/"):
            t = parse_tile_path(endpoint)
            immutable = t.full
            content_type = _TEXT if t.l == -1 else _BINARY
        else:
            raise NotFound(f"not found: /sumdb/{self.name}/{endpoint}")
        key = self._cache_key(f"{self.name}/{endpoint}")
        if self.offline:
            return await self._offline(endpoint, key, content_type)
        info = await self.store.stat(key)
        if info is not None and (immutable or self.clock() - info.mtime < self.ttl):
            data = await self.store.get(key)
            if data:
                return RemoteResponse(200, content_type, data)
        try:
            resp = await self.remote.fetch("/" + endpoint)
        except UpstreamError:
            # Stale if error: an old tree head, lookup or tile is still true (clients check
            # consistency themselves), so it beats an error while the database is away.
            stale = await self.store.get(key) if info is not None else None
            if not stale:
                raise
            return RemoteResponse(200, content_type, stale)
        if resp.status != 200:
            return resp
        if resp.body and (not immutable or await self._authentic(endpoint, resp.body)):
            await self.store.put(key, resp.body)
        # The same content type whether the bytes come from storage or the network.
        return RemoteResponse(200, content_type, resp.body)

    async def _offline(self, endpoint: str, key: str, content_type: str) -> RemoteResponse:
        """Answer from storage only; tiles may be prefixes of wider stored ones."""
        if endpoint.startswith("tile/"):
            data = await self.stored_tile(parse_tile_path(endpoint))
        else:
            data = await self.store.get(key)
        if not data:
            raise NotFound(f"not found: /sumdb/{self.name}/{endpoint} (offline: not stored)")
        return RemoteResponse(200, content_type, data)

    async def _authentic(self, endpoint: str, data: bytes) -> bool:
        """Whether a full hash tile folds to its hash in the tree this proxy verified: only
        then is it kept forever (a bad tile from upstream would otherwise be served for good;
        clients would reject it, but never get a good one from us)."""
        t = parse_tile_path(endpoint)
        if t.l < 0 or len(data) != t.w * 32:
            return False
        index = stored_hash_index(t.h * (t.l + 1), t.n)
        try:
            latest = await self._run(self._latest_size(), _Run(use_cache=True))
            if index >= stored_hash_index(0, latest):
                return False
            (want,) = await self._run(self.client.read_hashes([index]), _Run(use_cache=True))
        except GoModProxyError:
            return False
        return tile_hash(data) == want

    def _latest_size(self) -> flow.Flow[int]:
        yield from self.client.init()
        return self.client.latest.n

    async def aclose(self) -> None:
        flights = [*self._record_flights.values(), *self._tile_flights.values()]
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)
        await self.remote.aclose()
