"""In-process caches and single-flight, and the flock single-flight across instances."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gomodproxy.cache.base import MetadataCache, SingleFlight
from gomodproxy.cache.filelock import FileLockSingleFlight
from gomodproxy.cache.memory import HotCache, LocalSingleFlight, MemoryMetadataCache


class TestMetadataCache:
    async def test_keep_and_expiry(self) -> None:
        """Entries carry their storage time and vanish after ``keep`` seconds."""
        now = [100.0]
        cache = MemoryMetadataCache(clock=lambda: now[0])
        assert isinstance(cache, MetadataCache)
        await cache.set("k", b"v", keep=10)
        entry = await cache.get("k")
        assert entry is not None
        assert (entry.value, entry.stored_at) == (b"v", 100.0)
        now[0] = 110.0
        assert await cache.get("k") is None

    async def test_bounded_count(self) -> None:
        """The oldest insertion goes first when the cache is full."""
        cache = MemoryMetadataCache(max_entries=2)
        for k in "abc":
            await cache.set(k, k.encode(), keep=60)
        assert await cache.get("a") is None
        assert await cache.get("c") is not None


class TestLocalSingleFlight:
    async def test_one_run_shared_result_and_error(self) -> None:
        """Concurrent callers share one run, its result and its exception."""
        flight = LocalSingleFlight()
        assert isinstance(flight, SingleFlight)
        runs = 0

        async def work() -> int:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.01)
            return 7

        assert await asyncio.gather(*(flight.run("k", work) for _ in range(20))) == [7] * 20
        assert runs == 1
        assert flight.inflight() == 0

        async def fail() -> int:
            await asyncio.sleep(0.01)
            raise ValueError("bad")

        results = await asyncio.gather(
            *(flight.run("e", fail) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, ValueError) for r in results)

    async def test_cancelled_waiter_does_not_cancel_the_run(self) -> None:
        """A client that goes away leaves the fetch running for the others."""
        flight = LocalSingleFlight()
        done = asyncio.Event()

        async def work() -> str:
            await asyncio.sleep(0.05)
            done.set()
            return "ok"

        first = asyncio.ensure_future(flight.run("k", work))
        second = asyncio.ensure_future(flight.run("k", work))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == "ok"
        assert done.is_set()


class TestHotCache:
    def test_lru_bounded_by_bytes(self) -> None:
        """Least recently used values go first; items over the per-item limit are not kept."""
        hot: HotCache[str] = HotCache(max_bytes=10, max_item_bytes=6)
        hot.put("a", "A", 4)
        hot.put("b", "B", 4)
        assert hot.get("a") == "A"  # a is now the most recent
        hot.put("c", "C", 4)
        assert hot.get("b") is None
        assert hot.get("a") == "A"
        assert hot.get("c") == "C"
        hot.put("big", "X", 7)
        assert hot.get("big") is None
        assert hot.used == 8


class TestFileLockSingleFlight:
    async def test_second_instance_waits_and_sees_the_result(self, tmp_path: Path) -> None:
        """Two 'processes' (instances) on one lock directory run one after the other."""
        a, b = FileLockSingleFlight(tmp_path), FileLockSingleFlight(tmp_path)
        stored: list[str] = []
        order: list[str] = []

        async def fetch(name: str) -> str:
            if stored:  # re-check storage first, as the SingleFlight contract asks
                order.append(f"{name}:found")
                return stored[0]
            order.append(f"{name}:fetch")
            await asyncio.sleep(0.05)
            stored.append(name)
            return name

        results = await asyncio.gather(
            a.run("k", lambda: fetch("a")), b.run("k", lambda: fetch("b"))
        )
        assert results in (["a", "a"], ["b", "b"])
        assert sum(o.endswith(":fetch") for o in order) == 1

    async def test_cancel_while_waiting_releases_nothing_it_does_not_hold(
        self, tmp_path: Path
    ) -> None:
        """Cancelling a waiter leaves the holder's lock intact."""
        a, b = FileLockSingleFlight(tmp_path), FileLockSingleFlight(tmp_path)
        release = asyncio.Event()

        async def hold() -> str:
            await release.wait()
            return "held"

        holder = asyncio.ensure_future(a.run("k", hold))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(b.run("k", hold))
        await asyncio.sleep(0.03)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        assert await holder == "held"
        await a.aclose()
        await b.aclose()
