"""Store lifecycle: gc planning (pure), execution over a BlobStore, the access log, usage."""

from __future__ import annotations

import asyncio

import pytest

from gomodproxy.storage.access import AccessLog, day_of, read_accessed
from gomodproxy.storage.gc import DELETE_ORDER, Rules, StoredVersion, execute, plan, scan
from gomodproxy.storage.memory import MemoryStore
from gomodproxy.storage.usage import measure

DAY = 86400.0
NOW = 1_780_000_000.0


def v(
    path: str, version: str, size: int = 10, age_days: float = 100, served: str = ""
) -> StoredVersion:
    return StoredVersion(path, version, {}, size, NOW - age_days * DAY, served)


def names(versions: list[StoredVersion]) -> list[str]:
    return sorted(f"{x.path}@{x.version}" for x in versions)


STORE = [
    v("a.com/m", "v1.0.0"),
    v("a.com/m", "v1.2.0"),
    v("a.com/m", "v1.10.0", age_days=1),
    v("b.com/n", "v0.1.0", served=day_of(NOW - 2 * DAY)),
    v("b.com/n", "v0.2.0", size=1000),
]


class TestPlan:
    def test_no_rule_removes_nothing(self) -> None:
        """Without any rule gc keeps everything."""
        gc = plan(STORE, Rules(), NOW)
        assert gc.remove == []
        assert gc.freed == 0

    def test_keep_days_counts_storing_and_serving(self) -> None:
        """Recently stored or recently served versions stay; the rest goes."""
        gc = plan(STORE, Rules(keep_days=7), NOW)
        assert names(gc.keep) == ["a.com/m@v1.10.0", "b.com/n@v0.1.0"]
        assert gc.freed == 1020

    def test_keep_newest_is_per_module_in_semver_order(self) -> None:
        """v1.10.0 is newer than v1.2.0."""
        gc = plan(STORE, Rules(keep_newest=1), NOW)
        assert names(gc.keep) == ["a.com/m@v1.10.0", "b.com/n@v0.2.0"]

    def test_pinned_by_gosum_survive_everything(self) -> None:
        """go.sum versions are kept, even over the size budget."""
        rules = Rules(pinned=frozenset({("b.com/n", "v0.2.0")}), max_bytes=100)
        gc = plan(STORE, rules, NOW)
        assert names(gc.keep) == ["b.com/n@v0.2.0"]
        assert gc.over_budget == 900

    def test_budget_removes_least_recently_used_first(self) -> None:
        """Without keep rules the budget alone removes, oldest use first, until it fits."""
        gc = plan(STORE, Rules(max_bytes=1020), NOW)
        assert names(gc.remove) == ["a.com/m@v1.0.0", "a.com/m@v1.2.0"]
        assert gc.over_budget == 0
        assert sum(x.size for x in gc.keep) == 1020

    def test_old_access_days_are_pruned(self) -> None:
        """Access-log days before the window go with a keep-days run."""
        keys = [f"_meta/access/{day_of(NOW - d * DAY)}/w" for d in (0, 3, 30)]
        gc = plan(STORE, Rules(keep_days=7), NOW, keys)
        assert gc.stale_access_keys == [keys[2]]


class TestExecute:
    async def test_scan_and_remove_in_order(self) -> None:
        """scan groups a version's files; execute removes .mod first and leaves the rest of
        the store (lists, sumdb) alone."""
        store = MemoryStore()
        for ext in ("info", "mod", "zip", "ziphash"):
            await store.put(f"a.com/m/@v/v1.0.0.{ext}", b"x" * 3)
            await store.put(f"a.com/m/@v/v1.1.0.{ext}", b"y")
        await store.put("a.com/m/@v/list", b"v1.0.0\n")
        await store.put("sumdb/s.example/tile/8/0/000", b"t")
        versions, _ = await scan(store)
        assert [(x.version, x.size) for x in versions] == [("v1.0.0", 12), ("v1.1.0", 4)]
        gc = plan(versions, Rules(keep_newest=1), NOW + 10 * 365 * DAY)
        deleted: list[str] = []
        real_delete = store.delete

        async def spy(key: str) -> bool:
            deleted.append(key)
            return await real_delete(key)

        store.delete = spy  # type: ignore[method-assign]
        assert await execute(store, gc) == []
        assert deleted == [f"a.com/m/@v/v1.0.0.{ext}" for ext in DELETE_ORDER]
        left = sorted([k async for k in store.list("")])
        assert "a.com/m/@v/list" in left
        assert "sumdb/s.example/tile/8/0/000" in left
        assert not [k for k in left if "v1.0.0" in k]


class TestAccessLog:
    async def test_touches_are_written_per_day_and_read_back(self) -> None:
        """Served versions are recorded once per interval and on flush, per UTC day."""
        store = MemoryStore()
        clock = [NOW]
        access = AccessLog(store, interval=60, clock=lambda: clock[0])
        access.touch("a.com/m/@v/v1.0.0.zip")
        access.touch("a.com/m/@v/list")  # not a version file: ignored
        assert [k async for k in store.list("_meta/")] == []
        clock[0] += 61
        access.touch("a.com/m/@v/v1.0.0.mod")
        await asyncio.sleep(0)
        await access.flush()
        clock[0] += DAY
        access.touch("b.com/n/@v/v0.1.0.info")
        await access.flush()
        seen = await read_accessed(store, day_of(NOW))
        assert seen == {"a.com/m@v1.0.0": day_of(NOW), "b.com/n@v0.1.0": day_of(NOW + DAY)}
        assert await read_accessed(store, day_of(NOW + DAY)) == {
            "b.com/n@v0.1.0": day_of(NOW + DAY)
        }

    async def test_nothing_is_lost_while_a_write_runs(self) -> None:
        """Touches during a slow write are written later; a day that ends while a write runs
        still gets its last write, after that one."""
        store = MemoryStore()
        gate = asyncio.Event()
        real_put = store.put

        async def slow_put(key: str, data: bytes) -> None:
            await gate.wait()
            await real_put(key, data)

        store.put = slow_put  # type: ignore[method-assign]
        clock = [NOW]
        access = AccessLog(store, interval=0, clock=lambda: clock[0])
        access.touch("a.com/m/@v/v1.0.0.zip")  # starts a write, held at the gate
        await asyncio.sleep(0)
        access.touch("a.com/m/@v/v1.1.0.zip")  # skipped while it runs, still pending
        clock[0] += DAY
        access.touch("b.com/n/@v/v0.1.0.zip")  # new day: the old day's set is queued
        gate.set()
        await access.flush()
        seen = await read_accessed(store, "")
        assert seen == {
            "a.com/m@v1.0.0": day_of(NOW),
            "a.com/m@v1.1.0": day_of(NOW),
            "b.com/n@v0.1.0": day_of(NOW + DAY),
        }


async def test_usage_per_prefix() -> None:
    """Bytes, files, modules and versions per path prefix; other keys by first element."""
    store = MemoryStore()
    await store.put("github.com/o/a/@v/v1.0.0.mod", b"12")
    await store.put("github.com/o/b/@v/v1.0.0.zip", b"1234")
    await store.put("sumdb/s/tile/8/0/000", b"123")
    usage = await measure(store, depth=2)
    assert usage.top(5) == [("github.com/o", 6), ("sumdb", 3)]
    assert usage.versions["github.com/o"] == 1
    assert usage.modules["github.com/o"] == {"github.com/o/a", "github.com/o/b"}
    assert usage.total_bytes == 9


@pytest.mark.parametrize(("text", "n"), [("1024", 1024), ("2MiB", 2 << 20), ("3g", 3 << 30)])
def test_size_flag(text: str, n: int) -> None:
    """--max-size takes plain bytes or K/M/G/T suffixes."""
    from gomodproxy.cli.cmd_gc import human_size_arg

    assert human_size_arg(text) == n
