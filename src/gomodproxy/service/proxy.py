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
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from gomodproxy.cache.memory import HotCache, LocalSingleFlight, MemoryMetadataCache
from gomodproxy.errors import (
    GoModProxyError,
    InvalidInput,
    NotFound,
    UpstreamError,
    VerificationError,
)
from gomodproxy.gomod import modfile, module, semver
from gomodproxy.localfs import zipfiles, ziplimits
from gomodproxy.ports.cache import CacheEntry, MetadataCache, SingleFlight
from gomodproxy.ports.keys import artifact_key
from gomodproxy.ports.observer import NullObserver, Observer
from gomodproxy.ports.source import Source
from gomodproxy.ports.storage import BlobStore
from gomodproxy.ports.verifier import NoVerifier, Verifier
from gomodproxy.service import refusals
from gomodproxy.service.livezip import LiveZip
from gomodproxy.storage.access import AccessLog

T = TypeVar("T")
log = logging.getLogger("gomodproxy.service")

#: What the go command accepts at most (x/mod/zip).
MAX_ZIP_BYTES = 500 << 20
_NOT_FOUND_MARK = b"\x00not-found\x00"
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
    #: The stored blob holds the bytes when ``data`` is None (large zips).
    store: BlobStore | None = None
    #: A slot the HTTP layer uses to keep pre-encoded headers for this artifact.
    http_cache: Any = None
    #: A local file holding exactly the bytes (a filesystem store's zip): the HTTP server
    #: can send it without the bytes passing through Python.
    path: Path | None = None
    #: When ``path`` was last seen to exist (time.monotonic): storage is immutable, but gc
    #: may remove a version, so a record is checked again after ``FILE_RECHECK`` seconds.
    checked: float = 0.0

    def fresh(self, now: float) -> bool:
        """False for a file record due for a check (the HTTP layer then asks the service)."""
        return self.path is None or now - self.checked < FILE_RECHECK


@dataclass
class Trace:
    """What one request did, for its log line (cache result, where the bytes came from)."""

    cache: str = ""
    source: str = ""


def etag_of(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


def module_line(gomod: bytes) -> str | None:
    """The path in the ``module`` directive of a go.mod, or None when there is none."""
    try:
        text = gomod.decode("utf-8")
    except UnicodeDecodeError:
        return None
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
                continue
            return _unquote_go(line)
        m = re.match(r"^module(\s+|\()(.*)$", line)
        if m is None:
            continue
        rest = m.group(2).strip()
        if m.group(1) == "(" or rest == "(":
            in_block = True
            continue
        return _unquote_go(rest) if rest else None
    return None


def _unquote_go(token: str) -> str | None:
    if token.startswith(('"', "`")):
        try:
            value = json.loads(token) if token.startswith('"') else token.strip("`")
        except ValueError:
            return None
        return value if isinstance(value, str) else None
    return token.split()[0] if token.split() else None


def check_and_hash_zip(zip_path: Path, module_path: str, version: str, limit: int) -> str:
    """Check a module zip as the go command does (x/mod CheckZip) and return its h1 hash.

    Raises:
        InvalidInput: the zip is too large, unreadable or has an invalid entry.
    """
    size = zip_path.stat().st_size
    if size > limit:
        raise InvalidInput(f"module zip of {size} bytes exceeds the limit of {limit}")
    ziplimits.check_entry_count(zip_path)
    return zipfiles.check_and_hash_zip(zip_path, module_path, version)


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
        hot_cache_bytes: int = 256 << 20,
        hot_cache_item_bytes: int = 8 << 20,
        list_ttl: float = 60.0,
        stale_ttl: float = 7 * 86400.0,
        max_zip_bytes: int = MAX_ZIP_BYTES,
        temp_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        stream_cold_zips: bool = True,
        stream_cold_zips_after: int = 0,
        offline: bool = False,
        access: AccessLog | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.meta: MetadataCache = meta or MemoryMetadataCache(clock=clock)
        self.flight: SingleFlight = flight or LocalSingleFlight()
        self.verifier: Verifier = verifier or NoVerifier()
        self.observer: Observer = observer or NullObserver()
        self.hot: HotCache[Artifact] = HotCache(hot_cache_bytes, hot_cache_item_bytes)
        self.list_ttl = list_ttl
        self.stale_ttl = max(stale_ttl, list_ttl)
        self.max_zip_bytes = max_zip_bytes
        self.clock = clock
        self._temp_parent = Path(temp_dir) if temp_dir else None
        self._temp: Path | None = None
        self._owner_fd = -1
        self._background: set[asyncio.Task[Any]] = set()
        #: Cold zips being fetched, streamed to clients meanwhile.
        self.stream_cold_zips = stream_cold_zips
        #: Bytes of a cold zip that must have arrived before streaming starts: smaller zips
        #: are verified before their first byte, so a refusal is a 403 that says why.
        self.stream_cold_zips_after = stream_cold_zips_after
        self._live: dict[str, LiveZip] = {}
        #: The source is the store itself: lists are computed, never the persisted copies
        #: of an upstream's list (they may name versions the store does not hold).
        self.offline = offline
        #: Records which versions are served, for ``gc --keep-days``.
        self.access = access
        self._zip_pool: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def temp_dir(self) -> Path:
        """This process's directory for downloads in progress (removed by ``aclose``).

        The process holds an ``flock`` on ``.owner`` inside it for its lifetime, so another
        process can tell a directory left by a dead one (SIGKILL, power loss: the kernel
        dropped the lock) and remove it.
        """
        if self._temp is None:
            parent = self._temp_parent
            if parent is not None:
                parent.mkdir(parents=True, exist_ok=True)
                _remove_orphans(parent)
            temp = Path(tempfile.mkdtemp(prefix="gomodproxy-", dir=parent))
            self._owner_fd = os.open(temp / ".owner", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._owner_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._temp = temp
        return self._temp

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
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            os.close(self._owner_fd)
            self._temp = None

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
            self.observer.cache_lookup("memory", "hit")
            trace.cache, trace.source = "hit", "memory"
            if self.access is not None:
                self.access.touch(key)
            return art
        self.observer.cache_lookup("memory", "miss")
        art = await self._from_storage(kind, key, files=files)
        if art is not None:
            self.observer.cache_lookup("storage", "hit")
            trace.cache, trace.source = "hit", "storage"
            if self.access is not None:
                self.access.touch(key)
            return art
        self.observer.cache_lookup("storage", "miss")
        trace.cache = "miss"
        if kind != "info":
            await refusals.check(self.store, kind, path, version)
        if live and kind == "zip" and self.stream_cold_zips:
            return await self._live_zip(path, version, key, trace)
        return await self.flight.run(
            key, lambda: self._fetch_immutable(kind, path, version, key, trace)
        )

    async def _live_zip(self, path: str, version: str, key: str, trace: Trace) -> Artifact:
        """Join or start the fetch of a cold zip and stream it while it lands."""
        lz = self._live.get(key)
        if lz is None:
            lz = self._live[key] = LiveZip(key, self.stream_cold_zips_after)

            async def fetch(lz: LiveZip = lz) -> None:
                try:
                    art = await self.flight.run(
                        key,
                        lambda: self._fetch_immutable("zip", path, version, key, trace, lz.attach),
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
        # LiveZip streams like a BlobStore (``stream(key, start, end)``), the only use the
        # HTTP layer makes of ``Artifact.store``.
        return Artifact("zip", key, -1, "", True, store=cast(BlobStore, lz))

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
        h1 = await self.store.get(key + "hash")
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
    ) -> Artifact:
        # Another replica (or an earlier flight) may have stored it meanwhile.
        art = await self._from_storage(kind, key)
        if art is not None:
            return art
        trace.source = self.source_label(path)
        if kind != "info":
            self.verifier.prefetch(path, version)
        try:
            return await self._fetch_and_store(kind, path, version, key, on_tmp)
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
    ) -> Artifact:
        if kind != "zip":
            data = await self._upstream(kind, path, lambda: self._fetch_small(kind, path, version))
            await self.store.put(key, data)
            art = Artifact(kind, key, len(data), etag_of(data), True, data=data)
            self.hot.put(key, art, len(data))
            return art
        await self._fetch_zip(path, version, key, on_tmp)
        stored = await self._from_storage(kind, key)
        if stored is None:  # pragma: no cover - storage lost what it just stored
            raise GoModProxyError(f"storage did not keep {key}")
        return stored

    async def _fetch_small(self, kind: str, path: str, version: str) -> bytes:
        if kind == "info":
            data = await self.source.info(path, version)
            self._check_info(data, path, version)
            return data
        data = await self.source.mod(path, version)
        self._check_mod(data, path, version)
        self._prefetch_requirements(data)
        await self.verifier.verify_mod(path, version, data)
        return data

    def _prefetch_requirements(self, gomod: bytes) -> None:
        """The go command walks the module graph: the go.mod files of these requirements are
        what it asks for next. Their checksum-database lookups can start now."""
        try:
            requires = modfile.parse_gomod(gomod).require
        except InvalidInput:
            return
        for req in requires:
            self.verifier.prefetch(req.path, req.version, speculative=True)

    async def _fetch_zip(
        self, path: str, version: str, key: str, on_tmp: Callable[[Path], None] | None = None
    ) -> None:
        fd, name = tempfile.mkstemp(prefix="fetch-", suffix=".zip", dir=self.temp_dir())
        os.close(fd)
        tmp = Path(name)
        try:
            if on_tmp is not None:
                on_tmp(tmp)  # a LiveZip watches the download

            async def fetch() -> str:
                await self.source.zip(path, version, tmp)
                try:
                    return await asyncio.get_running_loop().run_in_executor(
                        self._zip_checks(),
                        check_and_hash_zip,
                        tmp,
                        path,
                        version,
                        self.max_zip_bytes,
                    )
                except InvalidInput as exc:
                    raise UpstreamError(f"{path}@{version}: upstream zip rejected: {exc}") from exc

            h1 = await self._upstream("zip", path, fetch)
            await self.verifier.verify_zip(path, version, h1)
            # The hash goes first: a visible zip always has its .ziphash.
            await self.store.put(key + "hash", h1.encode("ascii"))
            await self.store.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def source_label(self, path: str) -> str:
        """Which source ``path`` is fetched from, for logs and metrics."""
        label = getattr(self.source, "label", None)
        return (
            str(label(path)) if callable(label) else str(getattr(self.source, "name", "upstream"))
        )

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

    def _check_info(self, data: bytes, path: str, query: str | None) -> str:
        """The canonical Version of an .info body; checks it is one and matches ``query``."""
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: hostile nesting
            obj = None
        version = obj.get("Version") if isinstance(obj, dict) else None
        if not isinstance(version, str) or not semver.is_valid(version):
            raise UpstreamError(f"{path}: upstream sent an invalid .info (no valid Version)")
        if module.canonical_version(version) != version:
            raise UpstreamError(f"{path}: upstream .info Version {version!r} is not canonical")
        if query is not None and version != query:
            raise UpstreamError(
                f"{path}: upstream returned info for version {version} instead of {query}"
            )
        t = obj.get("Time") if isinstance(obj, dict) else None
        if t is not None and not isinstance(t, str):
            raise UpstreamError(f"{path}: upstream .info has an invalid Time")
        return version

    def _check_mod(self, data: bytes, path: str, version: str) -> None:
        declared = module_line(data)
        if declared is None:
            raise UpstreamError(f"{path}@{version}: upstream go.mod has no module line")
        if declared == path:
            return
        if declared.lower() == path.lower():
            # The same path in another case: a case-insensitive origin answering for a path
            # that is not its own. Never useful (no replace directive needs it) and a way
            # around case-sensitive rules: refused.
            raise UpstreamError(
                f"{path}@{version}: upstream go.mod declares module {declared!r}, "
                "the requested path in another case"
            )
        # As the go command in direct mode: only the major version suffix must agree (a
        # fork may declare its original path, which a replace directive needs; the go
        # command accepts it there and rejects it anywhere else itself).
        try:
            _, want_major, _ = module.split_path_version(path)
            _, got_major, ok = module.split_path_version(declared)
        except InvalidInput:
            ok = False
        if not ok or got_major.lstrip("/.") != want_major.lstrip("/."):
            raise UpstreamError(f"{path}@{version}: upstream go.mod declares module {declared!r}")

    # -- mutable answers ---------------------------------------------------------------

    async def list(self, path: str, trace: Trace) -> Artifact:
        key = artifact_key("list", path)
        return await self._mutable("list", key, path, None, trace, persist=not self.offline)

    async def latest(self, path: str, trace: Trace) -> Artifact:
        key = artifact_key("latest", path)
        return await self._mutable("latest", key, path, None, trace, persist=not self.offline)

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
        if entry is not None:
            age = now - entry.stored_at
            if age < self.list_ttl:
                self.observer.cache_lookup(self.meta.tier, "hit")
                trace.cache, trace.source = "hit", self.meta.tier
                return self._mutable_artifact(kind, key, entry.value)
            if age < self.stale_ttl and not entry.value.startswith(_NOT_FOUND_MARK):
                # Stale while revalidate: answer now, refresh once in the background.
                self.observer.cache_lookup(self.meta.tier, "stale")
                trace.cache, trace.source = "stale", self.meta.tier
                self._spawn(self._refresh_quietly(kind, key, path, query, persist))
                return self._mutable_artifact(kind, key, entry.value)
        self.observer.cache_lookup(self.meta.tier, "miss")
        trace.cache = "miss"
        trace.source = self.source_label(path)
        try:
            value = await self.flight.run(
                "meta:" + key, lambda: self._refresh(kind, key, path, query, persist)
            )
        except UpstreamError:
            if (
                entry is not None
                and now - entry.stored_at < self.stale_ttl
                and not entry.value.startswith(_NOT_FOUND_MARK)
            ):
                trace.cache = "stale-if-error"
                return self._mutable_artifact(kind, key, entry.value)
            raise
        return self._mutable_artifact(kind, key, value)

    def _mutable_artifact(self, kind: str, key: str, value: bytes) -> Artifact:
        if value.startswith(_NOT_FOUND_MARK):
            raise NotFound(value[len(_NOT_FOUND_MARK) :].decode("utf-8", "replace"))
        return Artifact(kind, key, len(value), etag_of(value), False, data=value)

    async def _persisted(self, key: str) -> CacheEntry | None:
        info = await self.store.stat(key)
        if info is None:
            return None
        data = await self.store.get(key)
        return None if data is None else CacheEntry(data, info.mtime)

    async def _refresh(
        self, kind: str, key: str, path: str, query: str | None, persist: bool
    ) -> bytes:
        keep = self.stale_ttl
        try:
            value = await self._upstream(kind, path, lambda: self._fetch_mutable(kind, path, query))
        except NotFound as exc:
            await self.meta.set(key, _NOT_FOUND_MARK + str(exc).encode(), self.list_ttl)
            raise
        await self.meta.set(key, value, keep)
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
            await _off_loop_when_large(data, _check_list, data, path)
            return data
        if kind == "latest":
            data = await self.source.latest(path)
            self._check_info(data, path, None)
            return data
        assert query is not None
        data = await self.source.info(path, query)
        version = self._check_info(data, path, None)
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


def _remove_orphans(parent: Path) -> None:
    """Remove download directories whose owner process died (its ``.owner`` lock is free)."""
    for child in parent.glob("gomodproxy-*"):
        try:
            fd = os.open(child / ".owner", os.O_RDWR)
        except FileNotFoundError:
            # Being created right now, or left before its lock existed: judge by age.
            with contextlib.suppress(OSError):
                if time.time() - child.stat().st_mtime > 60:
                    shutil.rmtree(child, ignore_errors=True)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live process owns it
        finally:
            os.close(fd)
        shutil.rmtree(child, ignore_errors=True)


#: Up to this many bytes, a check runs on the event loop (it takes well under a millisecond).
_ON_LOOP_BYTES = 64 << 10


async def _off_loop_when_large(data: bytes, check: Callable[..., None], *args: Any) -> None:
    """Run ``check(*args)`` on the loop for small ``data``, in a worker thread for large: a
    14 MB ``@v/list`` takes seconds to validate line by line, and the loop serves everyone."""
    if len(data) <= _ON_LOOP_BYTES:
        check(*args)
    else:
        await asyncio.to_thread(check, *args)


#: Bytes of a ``@v/list`` decoded and split at once: each C call (decode, splitlines) holds
#: the GIL, and in a worker thread a short call lets the event loop run in between.
_LIST_BLOCK = 64 << 10


def _check_list(data: bytes, path: str) -> None:
    """A ``@v/list`` body: UTF-8 lines whose first field is a valid version."""
    start = 0
    while start < len(data):
        cut = data.find(b"\n", start + _LIST_BLOCK)
        end = len(data) if cut < 0 else cut + 1
        try:
            text = data[start:end].decode("utf-8")  # a character never spans a newline
        except UnicodeDecodeError:
            raise UpstreamError(f"{path}: upstream sent a @v/list that is not UTF-8") from None
        for line in text.splitlines():
            fields = line.split()
            if fields and not semver.is_valid(fields[0]):
                raise UpstreamError(f"{path}: upstream sent an invalid @v/list line {line[:80]!r}")
        start = end
