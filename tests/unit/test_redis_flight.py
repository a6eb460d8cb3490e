"""The Redis metadata cache and distributed single-flight against a real redis-server:
one fetch across replicas, notified waiters, lease expiry of a dead holder, fencing, and
degradation to in-process behaviour when Redis goes away, with recovery when it is back."""

from __future__ import annotations

import asyncio
import secrets
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.exceptions

from gomodproxy.cache.redis_backend import RedisBackend, split_url
from gomodproxy.cache.redis_cache import RedisMetadataCache
from gomodproxy.cache.redis_flight import RedisSingleFlight, current_fence
from gomodproxy.errors import ConfigError
from tests.conftest import free_port
from tests.e2e.servers import RedisServer, need, redis_server, running

__all__ = ["redis_server"]

pytestmark = pytest.mark.e2e


class Replicas:
    """N independent backends on one Redis, like N replicas of the proxy."""

    def __init__(self, url: str, n: int, lease: float = 1.0) -> None:
        self.backends = [RedisBackend(url, probe_interval=0.1) for _ in range(n)]
        self.flights = [RedisSingleFlight(b, lease=lease, max_wait=5.0) for b in self.backends]
        self.caches = [RedisMetadataCache(b) for b in self.backends]

    async def aclose(self) -> None:
        for f in self.flights:
            await f.aclose()
        for b in self.backends:
            await b.aclose()


@pytest.fixture
async def url(redis_server: RedisServer) -> str:
    """The session Redis with a key prefix of this test's own."""
    return f"{redis_server.url}?prefix=t{secrets.token_hex(6)}"


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own, to stop and restart."""
    need("redis-server")
    server = RedisServer(tmp_path)
    with running(server):
        yield server


class FakeStorage:
    """A fetch that re-checks 'storage' first, as SingleFlight's contract requires."""

    def __init__(self, fetch_seconds: float = 0.2) -> None:
        self.stored: dict[str, bytes] = {}
        self.fetches = 0
        self.fetch_seconds = fetch_seconds

    def fn(self, key: str) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            if key in self.stored:
                return self.stored[key]
            self.fetches += 1
            await asyncio.sleep(self.fetch_seconds)
            self.stored[key] = f"zip of {key}".encode()
            return self.stored[key]

        return fetch


class TestMetadataCache:
    async def test_shared_between_replicas_with_its_age(self, url: str) -> None:
        """An entry set by one replica is seen by another, with the same storage time."""
        r = Replicas(url, 2)
        await r.caches[0].set("example.com/m/@v/list", b"v1.0.0\n", keep=60)
        entry = await r.caches[1].get("example.com/m/@v/list")
        assert entry is not None
        assert entry.value == b"v1.0.0\n"
        assert abs(entry.stored_at - time.time()) < 5
        assert r.caches[1].tier == "redis"
        await r.aclose()

    async def test_not_found_entries_typed_and_in_the_earlier_wire_form(self, url: str) -> None:
        """A remembered not-found is a typed entry; in Redis it has the form earlier releases
        wrote and read (storage time, then a NUL-framed mark and the message), so replicas of
        both kinds share one Redis during a rolling upgrade."""
        r = Replicas(url, 2)
        await r.caches[0].set("example.com/x/@v/list", b"not found: x", keep=60, not_found=True)
        entry = await r.caches[1].get("example.com/x/@v/list")
        assert entry is not None
        assert (entry.value, entry.not_found) == (b"not found: x", True)
        client = r.backends[0].client
        raw = await client.get(r.backends[0].key("meta", "example.com/x/@v/list"))
        assert raw[8:] == b"\x00not-found\x00not found: x"
        # Written by an earlier release: read as a typed not-found.
        old = struct.pack("!d", time.time()) + b"\x00not-found\x00gone"
        await client.set(r.backends[0].key("meta", "example.com/y/@latest"), old, px=60_000)
        entry = await r.caches[1].get("example.com/y/@latest")
        assert entry is not None
        assert (entry.value, entry.not_found) == (b"gone", True)
        await r.aclose()

    async def test_entries_expire_after_keep(self, url: str) -> None:
        """An entry is gone once its keep time has passed, in Redis and in memory."""
        r = Replicas(url, 1)
        await r.caches[0].set("k", b"v", keep=0.2)
        await asyncio.sleep(0.3)
        assert await r.caches[0].get("k") is None
        await r.aclose()

    async def test_redis_down_falls_back_to_memory(self) -> None:
        """With no Redis at all, the cache answers from process memory and says so."""
        backend = RedisBackend(f"redis://127.0.0.1:{free_port()}/0", probe_interval=0.1)
        cache = RedisMetadataCache(backend)
        await cache.set("k", b"v", keep=60)
        entry = await cache.get("k")
        assert entry is not None
        assert entry.value == b"v"
        assert cache.tier == "memory"
        assert backend.degraded
        await backend.aclose()

    def test_url_prefix(self) -> None:
        """?prefix= and &lease= are ours, not passed to Redis; other schemes are refused."""
        assert split_url("redis://h:1/2?prefix=a&lease=3&ssl_cert_reqs=none") == (
            "redis://h:1/2?ssl_cert_reqs=none",
            {"prefix": "a", "lease": "3"},
        )
        assert split_url("redis://h:1/2")[1] == {"prefix": "gomodproxy", "lease": "10"}
        with pytest.raises(ConfigError):
            split_url("http://h:1")


class TestSingleFlight:
    async def test_one_fetch_across_replicas(self, url: str) -> None:
        """150 concurrent calls spread over 3 replicas fetch once; everyone gets the value."""
        r = Replicas(url, 3)
        storage = FakeStorage()
        results = await asyncio.gather(
            *(r.flights[i % 3].run("m@v1", storage.fn("m@v1")) for i in range(150))
        )
        assert storage.fetches == 1
        assert set(results) == {b"zip of m@v1"}
        await r.aclose()

    async def test_waiters_are_notified_not_polling(self, url: str) -> None:
        """A waiter on another replica finishes right after the holder, not at max_wait."""
        r = Replicas(url, 2, lease=10.0)
        storage = FakeStorage(fetch_seconds=0.3)
        holder = asyncio.create_task(r.flights[0].run("k", storage.fn("k")))
        await asyncio.sleep(0.05)
        start = time.monotonic()
        assert await r.flights[1].run("k", storage.fn("k")) == b"zip of k"
        waited = time.monotonic() - start
        await holder
        # max_wait is 5 s: a waiter that missed the notification would take that long.
        assert waited < 2.5, f"waited {waited:.2f}s: the done notification was missed"
        assert storage.fetches == 1
        await r.aclose()

    async def test_dead_holder_lease_expires(self, url: str) -> None:
        """A lock left by a replica that died is taken over once its lease lapses."""
        r = Replicas(url, 1)
        lock, _ = r.flights[0]._keys("k")
        await r.backends[0].client.set(lock, "1:dead-replica", px=500)
        storage = FakeStorage(fetch_seconds=0)
        start = time.monotonic()
        assert await r.flights[0].run("k", storage.fn("k")) == b"zip of k"
        assert 0.3 < time.monotonic() - start < 3
        await r.aclose()

    async def test_holder_error_lets_waiter_fetch(self, url: str) -> None:
        """When the holder's fetch fails, a waiting replica runs the fetch itself."""
        r = Replicas(url, 2)
        storage = FakeStorage()

        async def failing() -> bytes:
            await asyncio.sleep(0.2)
            raise RuntimeError("upstream exploded")

        holder = asyncio.create_task(r.flights[0].run("k", failing))
        await asyncio.sleep(0.05)
        assert await r.flights[1].run("k", storage.fn("k")) == b"zip of k"
        with pytest.raises(RuntimeError):
            await holder
        await r.aclose()

    async def test_fencing_protects_the_successor(self, url: str) -> None:
        """A holder whose lease lapsed neither renews nor releases its successor's lock."""
        r = Replicas(url, 2, lease=0.3)
        lock, _ = r.flights[0]._keys("k")
        fences: list[int] = []
        release = asyncio.Event()

        async def slow() -> bytes:
            fences.append(current_fence.get())
            await release.wait()
            return b"a"

        holder = asyncio.create_task(r.flights[0].run("k", slow))
        await asyncio.sleep(0.05)
        await r.backends[0].client.delete(lock)  # as if the lease lapsed during a pause
        got_b = asyncio.create_task(r.flights[1].run("k", slow))
        await asyncio.sleep(0.6)  # B now holds; A's renewal finds the lock not its own
        assert len(fences) == 2
        assert fences[1] > fences[0]
        successor = await r.backends[1].client.get(lock)
        release.set()
        await holder
        assert await r.backends[1].client.get(lock) in (successor, None)
        assert await got_b == b"a"
        assert r.flights[0].leases_lost == 1
        await r.aclose()

    async def test_holder_finishes_when_renewal_swallows_its_cancellation(self, url: str) -> None:
        """A renewal whose cancellation comes out as a Redis timeout (as redis-py's own
        timeouts can make it) still stops: the flight ends instead of renewing forever."""
        r = Replicas(url, 1, lease=0.3)
        in_renewal = asyncio.Event()

        async def stuck_renew(*args: object, **kwargs: object) -> int:
            in_renewal.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise redis.exceptions.TimeoutError("timeout") from None
            return 1

        r.flights[0]._renew = stuck_renew  # type: ignore[assignment]

        async def fetch() -> bytes:
            await in_renewal.wait()
            return b"v"

        assert await asyncio.wait_for(r.flights[0].run("k", fetch), 5) == b"v"
        await r.aclose()


class TestDegradation:
    async def test_redis_stop_and_restart(self, private_redis: RedisServer) -> None:
        """Redis stopping degrades each replica to in-process locks, calls keep succeeding;
        when Redis is back the replicas recover by themselves."""
        r = Replicas(private_redis.url, 2)
        storage = FakeStorage(fetch_seconds=0.05)
        assert await r.flights[0].run("a", storage.fn("a")) == b"zip of a"
        private_redis.stop(kill=True)
        results = await asyncio.gather(
            *(r.flights[i % 2].run("b", storage.fn("b")) for i in range(20))
        )
        assert set(results) == {b"zip of b"}
        assert all(b.degraded for b in r.backends)
        assert r.flights[0].status()["degraded"] is True
        private_redis.start()
        deadline = time.monotonic() + 5
        while any(b.degraded for b in r.backends) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not any(b.degraded for b in r.backends)
        results = await asyncio.gather(
            *(r.flights[i % 2].run("c", storage.fn("c")) for i in range(20))
        )
        assert set(results) == {b"zip of c"}
        assert storage.fetches == 3 or storage.fetches == 4  # b may be fetched once per replica
        await r.caches[0].set("k", b"v", keep=60)
        entry = await r.caches[1].get("k")
        assert entry is not None
        assert r.caches[1].tier == "redis"
        await r.aclose()

    async def test_redis_lost_while_waiting(self, private_redis: RedisServer) -> None:
        """A waiter whose Redis goes away falls back and still gets the value, no error."""
        r = Replicas(private_redis.url, 2, lease=10.0)
        storage = FakeStorage(fetch_seconds=0.5)
        holder = asyncio.create_task(r.flights[0].run("k", storage.fn("k")))
        await asyncio.sleep(0.1)
        waiter = asyncio.create_task(r.flights[1].run("k", storage.fn("k")))
        await asyncio.sleep(0.1)
        private_redis.stop(kill=True)
        assert await waiter == b"zip of k"
        assert await holder == b"zip of k"
        await r.aclose()
