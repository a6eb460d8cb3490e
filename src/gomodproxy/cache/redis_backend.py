"""The Redis connection shared by the metadata cache and the single-flight, with its health.

Theory of operation. Every Redis call goes through ``RedisBackend.call``. The first failure
(connection refused, timeout, reset) marks the backend ``degraded``: from then on callers skip
Redis at once and use their in-process fallbacks, so a dead Redis costs no time per request.
A probe task PINGs every ``probe_interval`` seconds while degraded and clears the flag as soon
as Redis answers; the pub/sub listener is restarted then. Nothing needs a restart.

Notifications. One pub/sub subscription per process, on ``<prefix>:sf:done``, carries the keys
whose single-flight just finished; ``watch(key)`` gives an ``asyncio.Event`` set when such a
message arrives. A missed message only makes a waiter wait until its safety timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from gomodproxy.errors import ConfigError, StorageError

log = logging.getLogger("gomodproxy.redis")
T = TypeVar("T")


class RedisDown(StorageError):
    """Redis did not answer; the caller falls back to its in-process behaviour."""


#: Query parameters of the Redis URL that are ours, not redis-py's, with their defaults.
URL_OPTIONS = {"prefix": "gomodproxy", "lease": "10"}


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """``redis://h:p/0?prefix=x&lease=5`` → (``redis://h:p/0``, {prefix, lease}).

    ``prefix`` namespaces every key and channel (deployments can share a Redis); ``lease``
    is the single-flight lease in seconds (how long a dead holder blocks others).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"redis URL {url!r}: expected redis://HOST:PORT/DB or rediss://")
    query = parse_qsl(parts.query)
    options = dict(URL_OPTIONS)
    options.update((k, v) for k, v in query if k in URL_OPTIONS)
    rest = urlencode([(k, v) for k, v in query if k not in URL_OPTIONS])
    return urlunsplit(parts._replace(query=rest)), options


class RedisBackend:
    """One Redis client, its health flag, and the ``done`` notifications."""

    def __init__(
        self,
        url: str,
        *,
        op_timeout: float = 1.0,
        probe_interval: float = 1.0,
    ) -> None:
        plain_url, self.options = split_url(url)
        self.prefix = self.options["prefix"]
        try:
            self.client: aioredis.Redis = aioredis.Redis.from_url(
                plain_url,
                socket_timeout=op_timeout,
                socket_connect_timeout=min(op_timeout, 0.5),
                retry=Retry(NoBackoff(), 1),  # one retry: a pooled connection may be stale
                retry_on_timeout=False,
                health_check_interval=0,
            )
        except ValueError as exc:
            raise ConfigError(f"redis URL {url!r}: {exc}") from exc
        self.url = _redact(plain_url)
        self.probe_interval = probe_interval
        self.replica_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.channel = f"{self.prefix}:sf:done"
        #: True while Redis is unreachable; callers then use their in-process fallbacks.
        self.degraded = False
        self.last_error = ""
        #: How many times Redis was lost and found again (for logs and tests).
        self.outages = 0
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._probe: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # -- health ----------------------------------------------------------------------------

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation; a failure marks Redis down and raises ``RedisDown``."""
        if self.degraded:
            raise RedisDown("redis is unavailable")
        self._ensure_listener()
        try:
            return await fn()
        except (TimeoutError, RedisError, OSError) as exc:
            self.mark_down(exc)
            raise RedisDown(f"redis: {type(exc).__name__}") from exc

    def mark_down(self, exc: BaseException) -> None:
        """Switch to degraded mode and start probing for recovery."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        if not self.degraded:
            self.degraded = True
            self.outages += 1
            log.warning(
                "redis %s unavailable (%s): degraded to in-process cache and locks",
                self.url,
                self.last_error,
            )
            # Waiters re-check at once and take the in-process path instead of sleeping.
            for events in self._watchers.values():
                for event in events:
                    event.set()
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._probe_loop())

    async def _probe_loop(self) -> None:
        while self.degraded and not self._closed:
            await asyncio.sleep(self.probe_interval)
            try:
                await self.client.ping()
            except (TimeoutError, RedisError, OSError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            # Pooled connections from before the outage are dead: drop them all.
            with contextlib.suppress(RedisError, OSError):
                await self.client.connection_pool.disconnect()
            self.degraded = False
            log.warning("redis %s is back: shared cache and locks resumed", self.url)
            self._ensure_listener()

    def status(self) -> dict[str, Any]:
        """For /readyz, the status page and metrics."""
        return {
            "redis": self.url,
            "degraded": self.degraded,
            "last_error": self.last_error if self.degraded else "",
            "outages": self.outages,
        }

    # -- notifications -------------------------------------------------------------------

    @contextlib.contextmanager
    def watch(self, key: str) -> Iterator[asyncio.Event]:
        """An event set when a ``done`` notification for ``key`` arrives while inside."""
        event = asyncio.Event()
        self._watchers.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._watchers[key]

    async def notify(self, key: str) -> None:
        """Tell every replica that the flight for ``key`` has finished."""
        await self.call(lambda: self.client.publish(self.channel, key.encode()))

    def _ensure_listener(self) -> None:
        if self._closed or (self._listener is not None and not self._listener.done()):
            return
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            while not self._closed:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is None or msg.get("type") != "message":
                    continue
                data = msg.get("data")
                key = data.decode() if isinstance(data, bytes) else str(data)
                for event in self._watchers.get(key, ()):
                    event.set()
        except (TimeoutError, RedisError, OSError) as exc:
            if not self._closed:
                self.mark_down(exc)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        """Stop the probe and listener and close connections (idempotent: the cache and the
        single-flight sharing this backend both call it)."""
        if self._closed:
            return
        self._closed = True
        tasks = {t for t in (self._probe, self._listener) if t is not None}
        for task in tasks:
            task.cancel()
        if tasks:
            # Both loops also stop on _closed, should a cancellation be swallowed.
            await asyncio.wait(tasks, timeout=2.0)
        with contextlib.suppress(Exception):
            await self.client.aclose()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
