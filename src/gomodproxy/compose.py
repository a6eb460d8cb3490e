"""Composition root: every object of a running proxy is built here, from the settings.

``create_app`` builds the ASGI app of one worker process (the entry point ``serve`` hands to
the HTTP server); ``build_service`` builds the proxy service alone (``serve``'s start-up probe
and ``mod download``). The optional parts are chosen here: the checksum database verifier,
Redis for the shared metadata cache and locks, the upstream sources (``sources/router.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from gomodproxy.cache.filelock import FileLockSingleFlight
from gomodproxy.cache.memory import MemoryMetadataCache
from gomodproxy.checksumdb.verify import from_settings
from gomodproxy.config.settings import Settings, load_settings
from gomodproxy.errors import ConfigError
from gomodproxy.localfs.workdir import work_dir
from gomodproxy.ops.metrics import Metrics, RequestLog
from gomodproxy.ports.cache import MetadataCache, SingleFlight
from gomodproxy.ports.observer import Observer
from gomodproxy.ports.source import Source
from gomodproxy.ports.storage import BlobStore
from gomodproxy.ports.verifier import Verifier
from gomodproxy.server.app import ProxyApp
from gomodproxy.service.freshness import FreshnessPolicy
from gomodproxy.service.proxy import ColdZips, ProxyService, ServiceOptions
from gomodproxy.sources import retry
from gomodproxy.sources.router import build_source, route_private
from gomodproxy.sources.store import StoreSource
from gomodproxy.storage import open_store
from gomodproxy.storage.access import AccessLog


def verifier_for(settings: Settings, store: BlobStore) -> Verifier:
    return from_settings(settings, store)


def shared_caches(settings: Settings, work: Path) -> tuple[MetadataCache, SingleFlight]:
    """In-process metadata cache plus host-wide locks, or Redis when configured."""
    if not settings.redis:
        return MemoryMetadataCache(), FileLockSingleFlight(work / "locks")
    from gomodproxy.cache.redis_factory import open_redis

    # While Redis is down, the workers of this host still share host-wide locks.
    meta, flight = open_redis(settings, fallback=FileLockSingleFlight(work / "locks"))
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
        source = route_private(settings, StoreSource(store))
    else:
        try:
            source = build_source(settings)
        except ValueError as exc:
            raise ConfigError(f"goproxy {settings.goproxy!r}: {exc}") from exc
    work = work_dir(settings.temp_dir, store)
    meta, flight = shared_caches(settings, work)
    return ProxyService(
        store,
        source,
        meta=meta,
        flight=flight,
        verifier=verifier_for(settings, store),
        observer=observer,
        access=AccessLog(store) if track_access else None,
        options=ServiceOptions(
            freshness=FreshnessPolicy(settings.list_ttl, settings.stale_ttl),
            hot_cache_bytes=settings.hot_cache_bytes,
            hot_cache_item_bytes=settings.hot_cache_item_bytes,
            max_zip_bytes=settings.max_zip_bytes,
            cold_zips=ColdZips(
                bool(settings.values.get("stream_cold_zips", True)),
                int(settings.values.get("stream_cold_zips_after", 32 << 20)),
            ),
            offline=settings.is_offline(),
        ),
        temp_dir=work / "tmp",
    )


def create_app(settings: Settings | None = None, metrics_dir: Path | None = None) -> ProxyApp:
    """Build the app for one worker process.

    Worker processes started by ``gomodproxy serve`` get their settings from the environment
    variable ``GOMODPROXY_SETTINGS_JSON`` (written by the parent, so no worker runs ``go env``)
    and the shared metrics directory from ``GOMODPROXY_METRICS_DIR``.
    """
    if settings is None:
        text = os.environ.get("GOMODPROXY_SETTINGS_JSON")
        settings = Settings.from_json(text) if text else load_settings()
    if metrics_dir is None and os.environ.get("GOMODPROXY_METRICS_DIR"):
        metrics_dir = Path(os.environ["GOMODPROXY_METRICS_DIR"])
    metrics = Metrics(metrics_dir)
    metrics.counters(retry.STATS.read)
    service = build_service(settings, observer=metrics, track_access=True)
    request_log = RequestLog() if settings.access_log else None
    app = ProxyApp(service, settings, metrics, request_log)
    app.install_route_modules()
    return app
