"""Build the Redis metadata cache and single-flight from the ``redis`` URL (called by
``compose.py``)."""

from __future__ import annotations

from gomodproxy.cache.redis_backend import RedisBackend
from gomodproxy.cache.redis_cache import RedisMetadataCache
from gomodproxy.cache.redis_flight import RedisSingleFlight
from gomodproxy.errors import ConfigError
from gomodproxy.ports.cache import MetadataCache, SingleFlight


def open_redis(
    url: str, *, fallback: SingleFlight | None = None
) -> tuple[MetadataCache, SingleFlight]:
    """A metadata cache and a single-flight sharing one Redis connection.

    ``url`` is ``redis://HOST:PORT/DB`` (``rediss://`` for TLS; ``?prefix=NAME``
    namespaces keys, ``&lease=SECONDS`` sets the single-flight lease). ``fallback`` is the
    single-flight used while Redis is down (default: in-process); pass host-wide locks when
    several workers share a host.
    """
    backend = RedisBackend(url)
    try:
        lease = float(backend.options["lease"])
    except ValueError as exc:
        raise ConfigError(f"redis URL: lease {backend.options['lease']!r} is not a number") from exc
    return RedisMetadataCache(backend), RedisSingleFlight(backend, lease=lease, fallback=fallback)
