"""ProxyService: the one place that decides hot cache → storage → single-flight fetch.

Theory of operation
-------------------
Artifacts are of two kinds.

*Immutable*: ``.info``, ``.mod`` and ``.zip`` of a canonical version. They are looked up in
the hot in-memory cache (keyed by storage key, so the server can look there before doing
any parsing), then in storage, and on a miss fetched once (single-flight, whatever the
number of concurrent requests) from the sources. Nothing reaches storage before it has
been validated: an ``.info`` must name the version asked for, a ``.mod`` must declare a
module path whose major version suffix fits the request (as the go command checks in
direct mode), a zip must pass the module zip checks, and its h1 hash is computed and
stored beside it as ``.ziphash``; the ``Verifier`` hook (the checksum database) is called
for ``.mod`` and ``.zip`` before storing. The zip becomes visible last.

*Mutable*: ``@v/list``, ``@latest`` and ``.info`` of a query (branch, tag, hash prefix).
They live in the metadata cache with their time of storage. Younger than ``list_ttl``:
served as is. Older: served stale while one background refresh runs. Absent: fetched.
When the upstream fails, a copy younger than ``stale_ttl`` (from the cache, or the copy
persisted in storage for ``list``/``@latest``) is served instead of the error.
Not-found answers are cached for ``list_ttl`` too, since the go command probes every path
prefix of an import path.

Errors keep their type: ``NotFound`` (absent everywhere), ``UpstreamError`` (sources
failed), ``InvalidInput`` (bad request), ``VerificationError``, ``StorageError``; the
server maps them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gomodproxy.cache.memory import HotCache, LocalSingleFlight, MemoryMetadataCache
from gomodproxy.config.settings import CacheSettings
from gomodproxy.errors import (
    GoModProxyError,
    InvalidInput,
    NotFound,
    UpstreamError,
    VerificationError,
)
from gomodproxy.gomod import module
from gomodproxy.localfs.tempdir import DownloadDir
from gomodproxy.ports.cache import CacheEntry, MetadataCache, SingleFlight, etag_of
from gomodproxy.ports.keys import artifact_key, ziphash_key
from gomodproxy.ports.observer import NullObserver, Observer
from gomodproxy.ports.source import Source
from gomodproxy.ports.storage import BlobStore, BlobStream
from gomodproxy.ports.verifier import NoVerifier, Verifier
from gomodproxy.service import freshness, refusals
from gomodproxy.service.freshness import Freshness, FreshnessPolicy
from gomodproxy.service.livezip import LiveZip
from gomodproxy.service.validate import (
    MAX_ZIP_BYTES,
    check_and_hash_zip,
    check_info,
    check_list,
    check_mod,
)
from gomodproxy.storage.access import AccessLog

T = TypeVar("T")
log = logging.getLogger("gomodproxy.service")

#: Zips from this size up are sent from their file when the server can (smaller ones cost
#: less from memory than an open and a read); what such a record counts in the hot cache.
FILE_MIN_BYTES = 16 << 10
FILE_RECORD_BYTES = 512
FILE_RECHECK = 30.0

CONTENT_TYPES = {
    "info": b"application/json",
    "latest": b"application/json",
    "mod": b"text/plain; charset=utf-8",
    "list": b"text/plain; charset=utf-8",
    "zip": b"application/zip",
}


@dataclass
class Artifact:
    """A servable answer: bytes in memory, or a stored blob to stream."""

    kind: str
    key: str
    size: int
    etag: str
    immutable: bool
    data: bytes | None = None
    #: Streams the bytes when ``data`` is None: the store (large zips), or the fetch of a
    #: cold zip in progress (``LiveZip``).
    store: BlobStream | None = None
    #: A local file holding exactly the bytes (a filesystem store's zip): the HTTP server
    #: can send it without the bytes passing through Python.
    path: Path | None = None
    #: When ``path`` was last seen to exist (time.monotonic): storage is immutable, but gc
    #: may remove a version, so a record is checked again after ``FILE_RECHECK`` seconds.
    checked: float = 0.0

    def fresh(self, now: float) -> bool:
        """False for a file record due for a check (the HTTP layer then asks the service)."""
        return self.path is None or now - self.checked < FILE_RECHECK


class Trace:
    """What one request did, for its log line (cache result, where the bytes came from); the
    server's per-request record is one (``gomodproxy.ops.record.RequestRecord``)."""

    __slots__ = ("cache", "source")

    def __init__(self, cache: str = "", source: str = "") -> None:
        self.cache = cache
        self.source = source


@dataclass(frozen=True)
class ColdZips:
    """Cold zips streamed to clients while they are fetched, once ``after`` bytes arrived:
    smaller zips are verified before their first byte, so a refusal is a 403 that says why."""

    stream: bool = True
    after: int = 0


@dataclass(frozen=True)
class ServiceOptions:
    """The service's tunables (``compose`` fills them from the settings)."""

    freshness: FreshnessPolicy = field(default_factory=FreshnessPolicy)
    hot_cache_bytes: int = CacheSettings.hot_cache_bytes
    hot_cache_item_bytes: int = CacheSettings.hot_cache_item_bytes
    max_zip_bytes: int = MAX_ZIP_BYTES
    cold_zips: ColdZips = field(default_factory=ColdZips)
    #: The source is the store itself: lists are computed, never the persisted copies of an
    #: upstream's list (they may name versions the store does not hold).
    offline: bool = False


class ProxyService:
    """Answers protocol requests from the hot cache, storage and sources."""

    def __init__(
        self,
        store: BlobStore,
        source: Source,
        *,
        meta: MetadataCache | None = None,
        flight: SingleFlight | None = None,
        verifier: Verifier | None = None,
        observer: Observer | None = None,
        access: AccessLog | None = None,
        options: ServiceOptions | None = None,
        temp_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``access`` records which versions are served (for ``gc --keep-days``);
        ``temp_dir`` holds downloads in progress (the system temp dir when None)."""
        self.store = store
        self.source = source
        self.meta: MetadataCache = meta or MemoryMetadataCache(clock=clock)
        self.flight: SingleFlight = flight or LocalSingleFlight()
        self.verifier: Verifier = verifier or NoVerifier()
        self.observer: Observer = observer or NullObserver()
        self.access = access
        self.options = options = options or ServiceOptions()
        self.freshness = options.freshness
        self.hot: HotCache[Artifact] = HotCache(
            options.hot_cache_bytes, options.hot_cache_item_bytes
        )
        self.downloads = DownloadDir(temp_dir)
        self.clock = clock
        self._background: set[asyncio.Task[Any]] = set()
        #: Cold zips being fetched, streamed to clients meanwhile.
        self._live: dict[str, LiveZip] = {}
        self._zip_pool: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def _zip_checks(self) -> ThreadPoolExecutor:
        """The threads that check and hash zips, one per CPU, apart from the default executor:
        a 400 MiB zip takes seconds, and storage reads, writes and fsyncs must not queue
        behind it. zlib, SHA-256 and CRC-32 release the GIL on large pieces, so the threads
        use every CPU; measured on real module graphs, a process pool was no faster."""
        if self._zip_pool is None:
            self._zip_pool = ThreadPoolExecutor(os.cpu_count() or 1, "zip-check")
        return self._zip_pool

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.access is not None:
            await self.access.flush()
        await self.flight.aclose()
        await self.source.aclose()
        await self.meta.aclose()
        await self.store.aclose()
        if self._zip_pool is not None:
            self._zip_pool.shutdown(wait=False, cancel_futures=True)
            self._zip_pool = None
        self.downloads.close()

    # -- immutable artifacts -------------------------------------------------------------

    async def immutable(
        self,
        kind: str,
        path: str,
        version: str,
        trace: Trace,
        *,
        live: bool = False,
        files: bool = False,
    ) -> Artifact:
        """``.info``, ``.mod`` or ``.zip`` of a canonical version.

        With ``live`` (a client's GET), a cold zip may come back while it is still being
        fetched: size -1, no ETag, bytes streamed with the tail held back until verified
        (see ``livezip``). Callers that need the stored artifact leave ``live`` off.

        With ``files`` (the HTTP server can send a file itself), a stored zip that is a local
        file comes back as its ``path`` instead of its bytes; only that small record is kept
        in memory, so later hits need neither a read nor a stat (stored zips never change).
        """
        key = artifact_key(kind, path, version)
        art = self.hot.get(key)
        if art is not None and not art.fresh(time.monotonic()):
            if await self.store.stat(key) is None:
                self.hot.discard(key)  # removed (gc): answer as if never stored
                art = None
            else:
                art.checked = time.monotonic()
        if art is not None:
            return self._hit("memory", key, art, trace)
        self.observer.cache_lookup("memory", "miss")
        art = await self._from_storage(kind, key, files=files)
        if art is not None:
            return self._hit("storage", key, art, trace)
        self.observer.cache_lookup("storage", "miss")
        trace.cache = "miss"
        if kind != "info":
            await refusals.check(self.store, kind, path, version)
        if live and kind == "zip" and self.options.cold_zips.stream:
            return await self._live_zip(path, version, key, trace, files=files)
        return await self.flight.run(
            key, lambda: self._fetch_immutable(kind, path, version, key, trace, files=files)
        )

    def _hit(self, tier: str, key: str, art: Artifact, trace: Trace) -> Artifact:
        """Count a hit of ``tier``, note it in the trace and the access record."""
        self.observer.cache_lookup(tier, "hit")
        trace.cache, trace.source = "hit", tier
        if self.access is not None:
            self.access.touch(key)
        return art

    async def _live_zip(
        self, path: str, version: str, key: str, trace: Trace, *, files: bool = False
    ) -> Artifact:
        """Join or start the fetch of a cold zip and stream it while it lands."""
        lz = self._live.get(key)
        if lz is None:
            lz = self._live[key] = LiveZip(key, self.options.cold_zips.after)

            async def fetch(lz: LiveZip = lz) -> None:
                try:
                    art = await self.flight.run(
                        key,
                        lambda: self._fetch_immutable(
                            "zip", path, version, key, trace, lz.attach, files=files
                        ),
                    )
                except Exception as exc:
                    lz.fail(exc)
                except BaseException:
                    lz.fail(UpstreamError(f"{path}@{version}: download cancelled"))
                    raise
                else:
                    lz.finish(art)
                finally:
                    self._live.pop(key, None)

            task = asyncio.create_task(fetch())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if not await lz.streamable():
            art = lz.final
            assert isinstance(art, Artifact)
            return art
        return Artifact("zip", key, -1, "", True, store=lz)

    async def _from_storage(self, kind: str, key: str, *, files: bool = False) -> Artifact | None:
        if kind != "zip":
            small = await self.store.get(key)
            if small is None:
                return None
            art = Artifact(kind, key, len(small), etag_of(small), True, data=small)
            self.hot.put(key, art, len(small))
            return art
        info = await self.store.stat(key)
        if info is None:
            return None
        h1 = await self.store.get(ziphash_key(key))
        etag = (
            '"' + h1.decode("ascii", "replace").strip() + '"'
            if h1
            else f'"{info.size:x}-{int(info.mtime):x}"'
        )
        if files and info.local_path is not None and info.size >= FILE_MIN_BYTES:
            art = Artifact(
                kind,
                key,
                info.size,
                etag,
                True,
                store=self.store,
                path=info.local_path,
                checked=time.monotonic(),
            )
            self.hot.put(key, art, FILE_RECORD_BYTES)
            return art
        if not self.hot.fits(info.size):
            return Artifact(kind, key, info.size, etag, True, store=self.store)
        data = await self.store.get(key)
        if data is None:
            return None
        art = Artifact(kind, key, len(data), etag, True, data=data)
        self.hot.put(key, art, len(data))
        return art

    async def _fetch_immutable(
        self,
        kind: str,
        path: str,
        version: str,
        key: str,
        trace: Trace,
        on_tmp: Callable[[Path], None] | None = None,
        *,
        files: bool = False,
    ) -> Artifact:
        """Fetch, check, verify and store an artifact; ``files`` as for ``immutable``: a zip
        just stored comes back as its file, not read back into memory."""
        # Another replica (or an earlier flight) may have stored it meanwhile.
        art = await self._from_storage(kind, key, files=files)
        if art is not None:
            return art
        trace.source = self.source_label(path)
        if kind != "info":
            self.verifier.prefetch(path, version)
        try:
            return await self._fetch_and_store(kind, path, version, key, on_tmp, files=files)
        except VerificationError as exc:
            await refusals.remember(self.store, kind, path, version, exc)
            raise

    async def _fetch_and_store(
        self,
        kind: str,
        path: str,
        version: str,
        key: str,
        on_tmp: Callable[[Path], None] | None,
        *,
        files: bool = False,
    ) -> Artifact:
        if kind != "zip":
            data = await self._upstream(kind, path, lambda: self._fetch_small(kind, path, version))
            await self.store.put(key, data)
            art = Artifact(kind, key, len(data), etag_of(data), True, data=data)
            self.hot.put(key, art, len(data))
            return art
        await self._fetch_zip(path, version, key, on_tmp)
        stored = await self._from_storage(kind, key, files=files)
        if stored is None:  # pragma: no cover - storage lost what it just stored
            raise GoModProxyError(f"storage did not keep {key}")
        return stored

    async def _fetch_small(self, kind: str, path: str, version: str) -> bytes:
        if kind == "info":
            data = await self.source.info(path, version)
            check_info(data, path, version)
            return data
        data = await self.source.mod(path, version)
        check_mod(data, path, version)
        await self.verifier.verify_mod(path, version, data)
        return data

    async def _fetch_zip(
        self, path: str, version: str, key: str, on_tmp: Callable[[Path], None] | None = None
    ) -> None:
        tmp = self.downloads.new_file("fetch-", ".zip")
        try:
            if on_tmp is not None:
                on_tmp(tmp)  # a LiveZip watches the download

            async def fetch() -> str:
                await self.source.zip(path, version, tmp)
                if on_tmp is not None:
                    on_tmp(tmp)  # the file as downloaded: the one checked and stored
                try:
                    return await asyncio.get_running_loop().run_in_executor(
                        self._zip_checks(),
                        check_and_hash_zip,
                        tmp,
                        path,
                        version,
                        self.options.max_zip_bytes,
                    )
                except InvalidInput as exc:
                    raise UpstreamError(f"{path}@{version}: upstream zip rejected: {exc}") from exc

            h1 = await self._upstream("zip", path, fetch)
            await self.verifier.verify_zip(path, version, h1)
            # The hash goes first: a visible zip always has its .ziphash.
            await self.store.put(ziphash_key(key), h1.encode("ascii"))
            await self.store.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def source_label(self, path: str) -> str:
        """Which source ``path`` is fetched from, for logs and metrics."""
        return self.source.label(path)

    async def _upstream(self, artifact: str, path: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one upstream call, recording its outcome and duration."""
        name = self.source_label(path)
        start = time.perf_counter()
        outcome = "error"
        try:
            result = await call()
            outcome = "success"
            return result
        except NotFound:
            outcome = "not_found"
            raise
        except TimeoutError:
            outcome = "timeout"
            raise
        except InvalidInput as exc:
            outcome = "invalid"
            raise UpstreamError(str(exc), source=name) from exc
        finally:
            self.observer.upstream(name, artifact, outcome, time.perf_counter() - start)

    # -- mutable answers ---------------------------------------------------------------

    async def list(self, path: str, trace: Trace) -> Artifact:
        key = artifact_key("list", path)
        return await self._mutable("list", key, path, None, trace, persist=not self.options.offline)

    async def latest(self, path: str, trace: Trace) -> Artifact:
        key = artifact_key("latest", path)
        return await self._mutable(
            "latest", key, path, None, trace, persist=not self.options.offline
        )

    async def query(self, path: str, query: str, trace: Trace) -> Artifact:
        """``.info`` of a non-canonical query (branch, tag, commit prefix, ``v1.2``)."""
        key = artifact_key("query", path, query)
        return await self._mutable("info", key, path, query, trace, persist=False)

    async def _mutable(
        self, kind: str, key: str, path: str, query: str | None, trace: Trace, *, persist: bool
    ) -> Artifact:
        now = self.clock()
        entry = await self.meta.get(key)
        if entry is None and persist:
            entry = await self._persisted(key)
        age = None if entry is None else now - entry.stored_at
        negative = entry is not None and entry.not_found
        decision = freshness.decide(self.freshness, age, not_found=negative)
        if entry is not None and decision is Freshness.FRESH:
            self.observer.cache_lookup(self.meta.tier, "hit")
            trace.cache, trace.source = "hit", self.meta.tier
            return self._mutable_artifact(kind, key, entry)
        if entry is not None and decision is Freshness.STALE:
            # Stale while revalidate: answer now, refresh once in the background.
            self.observer.cache_lookup(self.meta.tier, "stale")
            trace.cache, trace.source = "stale", self.meta.tier
            self._spawn(self._refresh_quietly(kind, key, path, query, persist))
            return self._mutable_artifact(kind, key, entry)
        self.observer.cache_lookup(self.meta.tier, "miss")
        trace.cache = "miss"
        trace.source = self.source_label(path)
        try:
            value = await self.flight.run(
                "meta:" + key, lambda: self._refresh(kind, key, path, query, persist)
            )
        except UpstreamError:
            if entry is not None and freshness.usable_on_error(
                self.freshness, age, not_found=negative
            ):
                trace.cache = "stale-if-error"
                return self._mutable_artifact(kind, key, entry)
            raise
        return Artifact(kind, key, len(value), etag_of(value), False, data=value)

    def _mutable_artifact(self, kind: str, key: str, entry: CacheEntry) -> Artifact:
        if entry.not_found:
            raise NotFound(entry.value.decode("utf-8", "replace"))
        value = entry.value
        return Artifact(kind, key, len(value), entry.etag, False, data=value)

    async def _persisted(self, key: str) -> CacheEntry | None:
        info = await self.store.stat(key)
        if info is None:
            return None
        data = await self.store.get(key)
        return None if data is None else CacheEntry(data, info.mtime)

    async def _refresh(
        self, kind: str, key: str, path: str, query: str | None, persist: bool
    ) -> bytes:
        try:
            value = await self._upstream(kind, path, lambda: self._fetch_mutable(kind, path, query))
        except NotFound as exc:
            await self.meta.set(key, str(exc).encode(), self.freshness.list_ttl, not_found=True)
            raise
        await self.meta.set(key, value, self.freshness.stale_ttl)
        if persist:
            await self.store.put(key, value)
        return value

    async def _refresh_quietly(
        self, kind: str, key: str, path: str, query: str | None, persist: bool
    ) -> None:
        try:
            await self.flight.run(
                "meta:" + key, lambda: self._refresh(kind, key, path, query, persist)
            )
        except GoModProxyError as exc:
            log.info("background refresh of %s failed: %s", key, exc)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _fetch_mutable(self, kind: str, path: str, query: str | None) -> bytes:
        if kind == "list":
            data = await self.source.list(path)
            await _off_loop_when_large(data, check_list, data, path)
            return data
        if kind == "latest":
            data = await self.source.latest(path)
            check_info(data, path, None)
            return data
        assert query is not None
        data = await self.source.info(path, query)
        version = check_info(data, path, None)
        await self._keep_resolved_info(path, version, data)
        return data

    async def _keep_resolved_info(self, path: str, version: str, data: bytes) -> None:
        """Store the .info of the version a query resolved to: it is immutable."""
        try:
            module.check(path, version)
            key = artifact_key("info", path, version)
        except InvalidInput:
            return
        if await self.store.stat(key) is None:
            await self.store.put(key, data)


#: Up to this many bytes, a check runs on the event loop (it takes well under a millisecond).
_ON_LOOP_BYTES = 64 << 10


async def _off_loop_when_large(data: bytes, check: Callable[..., None], *args: Any) -> None:
    """Run ``check(*args)`` on the loop for small ``data``, in a worker thread for large: a
    14 MB ``@v/list`` takes seconds to validate line by line, and the loop serves everyone."""
    if len(data) <= _ON_LOOP_BYTES:
        check(*args)
    else:
        await asyncio.to_thread(check, *args)
