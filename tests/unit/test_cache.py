"""In-process caches and single-flight, and the flock single-flight across instances."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from gomodproxy.cache.filelock import FileLockSingleFlight
from gomodproxy.cache.memory import HotCache, LocalSingleFlight, MemoryMetadataCache
from gomodproxy.errors import NotFound
from gomodproxy.ports.cache import MetadataCache, SingleFlight


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

    async def test_not_found_is_a_field(self) -> None:
        """A remembered not-found is typed, its message the value; other entries are not."""
        cache = MemoryMetadataCache()
        await cache.set("absent", b"no such module", keep=10, not_found=True)
        await cache.set("list", b"v1.0.0\n", keep=10)
        absent, present = await cache.get("absent"), await cache.get("list")
        assert absent is not None
        assert present is not None
        assert (absent.value, absent.not_found) == (b"no such module", True)
        assert present.not_found is False

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

    async def test_lock_files_do_not_accumulate(self, tmp_path: Path) -> None:
        """Each distinct key (a cold request for an absent module too) leaves no file."""
        flight = FileLockSingleFlight(tmp_path)

        async def absent() -> str:
            raise NotFound("not found")

        for i in range(200):
            with pytest.raises(NotFound):
                await flight.run(f"example.com/absent{i}/@v/list", absent)
        assert await flight.run("k", lambda: asyncio.sleep(0, "done")) == "done"
        assert list(tmp_path.iterdir()) == []

    async def test_removed_lock_files_still_exclude(self, tmp_path: Path) -> None:
        """Holders remove the file on release; waiters never overlap with the next holder."""
        flights = [FileLockSingleFlight(tmp_path) for _ in range(6)]
        inside = 0
        most = 0

        async def critical() -> None:
            nonlocal inside, most
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.002)
            inside -= 1

        async def worker(flight: FileLockSingleFlight) -> None:
            for _ in range(15):
                await flight.run("same", critical)

        await asyncio.gather(*(worker(f) for f in flights))
        assert most == 1
        assert list(tmp_path.iterdir()) == []

    def test_removed_lock_files_exclude_across_processes(self, tmp_path: Path) -> None:
        """Four processes taking one key 40 times each never overlap (enter/exit pairs)."""
        script = (
            "import asyncio, os, sys\n"
            "from pathlib import Path\n"
            "from gomodproxy.cache.filelock import FileLockSingleFlight\n"
            "d, log = Path(sys.argv[1]), sys.argv[2]\n"
            "async def crit():\n"
            "    with open(log, 'a') as f: f.write('+%d\\n' % os.getpid())\n"
            "    await asyncio.sleep(0.001)\n"
            "    with open(log, 'a') as f: f.write('-%d\\n' % os.getpid())\n"
            "async def main():\n"
            "    fl = FileLockSingleFlight(d)\n"
            "    for _ in range(40): await fl.run('k', crit)\n"
            "asyncio.run(main())\n"
        )
        log = tmp_path / "log"
        locks = tmp_path / "locks"
        procs = [
            subprocess.Popen([sys.executable, "-c", script, str(locks), str(log)]) for _ in range(4)
        ]
        assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
        lines = log.read_text().split()
        assert len(lines) == 4 * 40 * 2
        for enter, leave in zip(lines[::2], lines[1::2], strict=True):
            assert enter[0] == "+"
            assert leave == "-" + enter[1:]
        assert list(locks.iterdir()) == []
