"""Composition root: every object of a running proxy is built here, once, from the settings.

``build_app`` builds the ASGI app of one worker: storage (wrapped to count its errors and
time its operations), sources (wrapped in the per-principal fetch cap when configured),
the metadata cache and single-flight (Redis or in-process with host-wide file locks, timed),
the checksum-database verifier, the proxy service over all of these, the access gate, the
``/sumdb/`` and ``/admin/`` apps, the status page and the response observer (SLI, audit), and
hands them to :class:`~gomodproxy.server.app.ProxyApp`'s constructor. Nothing is installed,
swapped or patched afterwards. ``create_app`` is the entry point ``serve`` gives the HTTP
server (``serve`` builds one app in the parent first, to check the settings);
``build_service`` builds the service alone (``mirror``, ``mod download``). Every optional
part (Redis, OCI/S3 storage, offline mode, a private checksum database, authentication and
limits, the audit log, admin) is chosen here.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gomodproxy.cache.filelock import FileLockSingleFlight
from gomodproxy.cache.memory import MemoryMetadataCache
from gomodproxy.checksumdb.verify import Counter, SumdbVerifier, from_settings
from gomodproxy.config.settings import Settings, UpstreamSettings, load_settings
from gomodproxy.errors import ConfigError
from gomodproxy.localfs.workdir import work_dir
from gomodproxy.ops.flightwatch import TimedFlight, TimedMetadataCache
from gomodproxy.ops.metrics import Metrics, RequestLog
from gomodproxy.ops.observe import OpsObserver
from gomodproxy.ops.routes import (
    StatusPage,
    admin_from_settings,
    audit_from_settings,
    register_gauges,
)
from gomodproxy.ops.storagewatch import CountingStore
from gomodproxy.ports.cache import MetadataCache, SingleFlight
from gomodproxy.ports.observer import Observer
from gomodproxy.ports.source import Source
from gomodproxy.ports.storage import BlobStore
from gomodproxy.ports.verifier import Verifier
from gomodproxy.redact.secrets import redact_settings
from gomodproxy.security.ratelimit import FetchLimiter, LimitedSource
from gomodproxy.server.app import ProxyApp
from gomodproxy.server.gate import gate_from_settings, private_predicate
from gomodproxy.server.sumdb_routes import PREFIX as SUMDB_PREFIX
from gomodproxy.server.sumdb_routes import sumdb_routes
from gomodproxy.service.freshness import FreshnessPolicy
from gomodproxy.service.proxy import ColdZips, ProxyService, ServiceOptions
from gomodproxy.sources import retry
from gomodproxy.sources.router import build_source, route_private
from gomodproxy.sources.store import StoreSource
from gomodproxy.storage import open_store
from gomodproxy.storage.access import AccessLog


def verifier_for(
    settings: Settings,
    store: BlobStore,
    metrics: Counter | None = None,
    *,
    flight: SingleFlight | None = None,
) -> SumdbVerifier:
    """The checksum-database verifier the settings ask for, over ``store``; with ``flight``,
    each version is looked up once across the processes sharing it."""
    return from_settings(
        settings.checksumdb,
        settings.upstream,
        settings.cache.list_ttl,
        store,
        metrics,
        flight=flight,
    )


def shared_caches(redis_url: str, work: Path) -> tuple[MetadataCache, SingleFlight]:
    """In-process metadata cache plus host-wide locks, or Redis when configured."""
    if not redis_url:
        return MemoryMetadataCache(), FileLockSingleFlight(work / "locks")
    from gomodproxy.cache.redis_factory import open_redis

    # While Redis is down, the workers of this host still share host-wide locks.
    meta, flight = open_redis(redis_url, fallback=FileLockSingleFlight(work / "locks"))
    return meta, flight


def build_service(
    settings: Settings, observer: Observer | None = None, *, track_access: bool = False
) -> ProxyService:
    """Open storage, sources and caches as the settings say (the service alone, without the
    HTTP and operations parts of :func:`build_app`).

    Raises:
        ConfigError: storage URL or GOPROXY unusable.
    """
    store = open_store(settings.storage.storage)
    source = _source(settings.upstream, store)
    work = work_dir(settings.storage.temp_dir, store)
    meta, flight = shared_caches(settings.cache.redis, work)
    access = AccessLog(store) if track_access else None
    verifier = verifier_for(settings, store)
    return _service(settings, store, source, meta, flight, verifier, observer, work, access)


def _source(upstream: UpstreamSettings, store: BlobStore) -> Source:
    """The upstream sources the settings name, or the store itself in offline mode.

    Raises:
        ConfigError: GOPROXY unusable.
    """
    if upstream.is_offline():
        return route_private(upstream, StoreSource(store))
    try:
        return build_source(upstream)
    except ValueError as exc:
        raise ConfigError(f"goproxy {upstream.goproxy!r}: {exc}") from exc


def _service(
    settings: Settings,
    store: BlobStore,
    source: Source,
    meta: MetadataCache,
    flight: SingleFlight,
    verifier: Verifier,
    observer: Observer | None,
    work: Path,
    access: AccessLog | None,
) -> ProxyService:
    cache, upstream = settings.cache, settings.upstream
    return ProxyService(
        store,
        source,
        meta=meta,
        flight=flight,
        verifier=verifier,
        observer=observer,
        access=access,
        options=ServiceOptions(
            freshness=FreshnessPolicy(cache.list_ttl, cache.stale_ttl),
            hot_cache_bytes=cache.hot_cache_bytes,
            hot_cache_item_bytes=cache.hot_cache_item_bytes,
            max_zip_bytes=upstream.max_zip_bytes,
            cold_zips=ColdZips(upstream.stream_cold_zips, upstream.stream_cold_zips_after),
            offline=upstream.is_offline(),
        ),
        temp_dir=work / "tmp",
    )


def build_app(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    request_log: RequestLog | None = None,
    store: BlobStore | None = None,
    source: Source | None = None,
    temp_dir: Path | None = None,
    caches: tuple[MetadataCache, SingleFlight] | None = None,
    verifier: SumdbVerifier | None = None,
) -> ProxyApp:
    """The app of one worker process, every part built once and already composed.

    ``store``, ``source``, ``temp_dir``, ``caches`` and ``verifier`` replace what the settings
    would open (tests run a whole app over a memory store and a scripted source this way).

    Raises:
        ConfigError: a setting cannot be used (storage URL, GOPROXY, GOSUMDB, token files).
    """
    security, ops, goprivate = settings.security, settings.ops, settings.upstream.goprivate
    metrics = metrics or Metrics()
    metrics.counters(retry.STATS.read)
    raw_store = store or open_store(settings.storage.storage)
    work = temp_dir or work_dir(settings.storage.temp_dir, raw_store)
    meta, flight = caches or shared_caches(settings.cache.redis, work)
    own_verifier = verifier is None
    if verifier is None:
        verifier = verifier_for(settings, raw_store, metrics, flight=flight)
    elif verifier.metrics is None:
        verifier.metrics = metrics
    upstream = source or _source(settings.upstream, raw_store)
    cap = security.max_upstream_fetches_per_principal
    if cap > 0:
        upstream = LimitedSource(upstream, FetchLimiter(cap))
    service = _service(
        settings,
        CountingStore(raw_store, metrics),
        upstream,
        TimedMetadataCache(meta, metrics),
        TimedFlight(flight, metrics),
        verifier,
        metrics,
        work,
        AccessLog(raw_store),
    )
    mounts: dict[str, Any] = {}
    sumdb = sumdb_routes(
        settings.checksumdb,
        goprivate,
        settings.cache.list_ttl,
        service,
        raw_store,
        verifier.databases,
        work / "locks",
    )
    if sumdb is not None:
        mounts[SUMDB_PREFIX] = sumdb
    audit = audit_from_settings(ops)
    # Metrics and the status page never name a private path.
    observer = OpsObserver(
        metrics,
        verifier,
        audit,
        is_private=private_predicate(security.access_rules, goprivate),
    )
    register_gauges(metrics, service)
    shown = {"settings": redact_settings(settings.by_name()), "origins": dict(settings.origins)}
    admin = admin_from_settings(ops, service, shown, audit)
    if admin is not None:
        mounts["/admin/"] = admin
    private_names = [sumdb.private.name] if sumdb is not None and sumdb.private else []
    gate = gate_from_settings(security, ops, goprivate, private_names)
    shutdown: list[Callable[[], Awaitable[None]]] = []
    if audit is not None:

        async def close_audit() -> None:
            audit.close()

        shutdown.append(close_audit)

    async def flush_gate() -> None:
        gate.flush()

    shutdown.append(flush_gate)
    if own_verifier:
        # Its checksum-database clients (connections) are this app's; a given one is not.
        shutdown.append(verifier.aclose)
    return ProxyApp(
        service,
        settings.server,
        settings.cache.list_ttl,
        metrics,
        request_log,
        gate=gate,
        observers=[observer],
        mounts=mounts,
        exact_routes={"/": StatusPage(service, metrics, observer)},
        on_shutdown=shutdown,
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
    request_log = RequestLog() if settings.server.access_log else None
    return build_app(settings, metrics=Metrics(metrics_dir), request_log=request_log)
