"""Composition root: build the service from settings (used by ``serve`` and ``mod download``).

Optional parts other components provide are looked up here, each in one small function, so
they plug in without edits elsewhere:

- ``gomodproxy.verify.from_settings(settings, store) -> Verifier`` (checksum database);
- ``gomodproxy.cache.redis_factory.open_redis(settings) -> (MetadataCache, SingleFlight)``
  when ``redis`` is set (shared cache and locks across replicas);
- the direct VCS source, in ``sources/router.py`` (``direct_source``).
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

from gomodproxy.cache.base import MetadataCache, SingleFlight
from gomodproxy.cache.filelock import FileLockSingleFlight
from gomodproxy.cache.memory import MemoryMetadataCache
from gomodproxy.config import Settings
from gomodproxy.errors import ConfigError
from gomodproxy.service import NoVerifier, Observer, ProxyService, Verifier
from gomodproxy.sources.base import Source
from gomodproxy.sources.router import build_source
from gomodproxy.sources.store import StoreSource
from gomodproxy.storage import open_store
from gomodproxy.storage.access import AccessLog
from gomodproxy.storage.base import BlobStore


def work_dir(settings: Settings, store: BlobStore) -> Path:
    """Where downloads in progress and lock files go: inside a filesystem store (so storing a
    zip is a rename; dot names are never keys), else ``temp_dir`` or the system temp dir."""
    if settings.temp_dir:
        return Path(settings.temp_dir)
    root = getattr(store, "root", None)
    if store.kind == "filesystem" and isinstance(root, Path):
        return root / ".gomodproxy"
    return Path(tempfile.gettempdir()) / "gomodproxy"


def verifier_for(settings: Settings, store: BlobStore) -> Verifier:
    try:
        mod = importlib.import_module("gomodproxy.verify")
    except ImportError:
        return NoVerifier()
    factory = getattr(mod, "from_settings", None)
    if factory is None:
        return NoVerifier()
    verifier: Verifier = factory(settings, store)
    return verifier


def shared_caches(settings: Settings, work: Path) -> tuple[MetadataCache, SingleFlight]:
    """In-process metadata cache plus host-wide locks, or Redis when configured."""
    if not settings.redis:
        return MemoryMetadataCache(), FileLockSingleFlight(work / "locks")
    try:
        mod = importlib.import_module("gomodproxy.cache.redis_factory")
    except ImportError as exc:
        raise ConfigError("redis is set but Redis support is not available in this build") from exc
    # issue 7: while Redis is down, the workers of this host still share host-wide locks.
    meta, flight = mod.open_redis(settings, fallback=FileLockSingleFlight(work / "locks"))
    return meta, flight


def build_service(
    settings: Settings, observer: Observer | None = None, *, track_access: bool = False
) -> ProxyService:
    """Open storage, sources and caches as the settings say.

    Raises:
        ConfigError: storage URL or GOPROXY unusable.
    """
    store = open_store(settings.storage)
    source: Source
    if settings.is_offline():
        source = StoreSource(store)
    else:
        try:
            source = build_source(settings)
        except ValueError as exc:
            raise ConfigError(f"goproxy {settings.goproxy!r}: {exc}") from exc
    work = work_dir(settings, store)
    meta, flight = shared_caches(settings, work)
    return ProxyService(
        store,
        source,
        meta=meta,
        flight=flight,
        verifier=verifier_for(settings, store),
        observer=observer,
        hot_cache_bytes=settings.hot_cache_bytes,
        hot_cache_item_bytes=settings.hot_cache_item_bytes,
        list_ttl=settings.list_ttl,
        stale_ttl=settings.stale_ttl,
        max_zip_bytes=settings.max_zip_bytes,
        temp_dir=work / "tmp",
        stream_cold_zips=bool(settings.values.get("stream_cold_zips", True)),  # issue 6
        stream_cold_zips_after=int(settings.values.get("stream_cold_zips_after", 32 << 20)),
        offline=settings.is_offline(),
        access=AccessLog(store) if track_access else None,
    )
