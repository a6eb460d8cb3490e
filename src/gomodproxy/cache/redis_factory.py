"""Build the Redis metadata cache and single-flight from settings (called by ``deps.py``)."""

from __future__ import annotations

from typing import Any

from gomodproxy.cache.base import MetadataCache, SingleFlight
from gomodproxy.cache.redis_backend import RedisBackend
from gomodproxy.cache.redis_cache import RedisMetadataCache
from gomodproxy.cache.redis_flight import RedisSingleFlight


def open_redis(
    settings: Any, *, fallback: SingleFlight | None = None
) -> tuple[MetadataCache, SingleFlight]:
    """A metadata cache and a single-flight sharing one Redis connection.

    ``settings.redis`` is ``redis://HOST:PORT/DB`` (``rediss://`` for TLS, ``?prefix=NAME``
    to namespace keys). ``fallback`` is the single-flight used while Redis is down (default:
    in-process); pass host-wide locks when several workers share a host.
    """
    backend = RedisBackend(settings.redis)
    lease = float(getattr(settings, "redis_lease", 0) or 10.0)
    return RedisMetadataCache(backend), RedisSingleFlight(backend, lease=lease, fallback=fallback)
