"""The host-wide lock (localfs.filelock): exclusion, cancellation of a waiter, lock files that
the holder removes, and the fds it leaves open (none)."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from gomodproxy.localfs import filelock


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def locked_elsewhere(path: Path) -> bool:
    """Whether another open file description of ``path`` finds it locked."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class TestHeld:
    async def test_holders_never_overlap(self, tmp_path: Path) -> None:
        """Tasks taking one lock (each its own open file, as processes do) run one at a time;
        with and without removing the file."""
        for remove in (False, True):
            inside = most = 0

            async def critical(path: Path, remove: bool = remove) -> None:
                nonlocal inside, most
                for _ in range(10):
                    async with filelock.held(path, remove=remove):
                        inside += 1
                        most = max(most, inside)
                        await asyncio.sleep(0)
                        inside -= 1

            path = tmp_path / f"{remove}.lock"
            await asyncio.gather(*(critical(path) for _ in range(5)))
            assert most == 1
            assert path.exists() is not remove

    async def test_the_lock_is_held_in_the_body_and_released_after(self, tmp_path: Path) -> None:
        path = tmp_path / "a.lock"
        before = open_fds()
        async with filelock.held(path):
            assert locked_elsewhere(path)
        assert not locked_elsewhere(path)
        assert open_fds() == before

    async def test_a_cancelled_waiter_holds_nothing(self, tmp_path: Path) -> None:
        """A waiter cancelled while polling leaves no fd and no lock behind: once the holder
        releases, the lock is free."""
        path = tmp_path / "a.lock"
        before = open_fds()
        release = asyncio.Event()
        entered: list[str] = []

        async def take(name: str, wait: bool) -> None:
            async with filelock.held(path):
                entered.append(name)
                if wait:
                    await release.wait()

        holder = asyncio.create_task(take("holder", True))
        await asyncio.sleep(0)  # the holder takes the lock and waits for release
        waiter = asyncio.create_task(take("waiter", False))
        await asyncio.sleep(0)  # the waiter finds the lock taken and polls
        assert entered == ["holder"]
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        await holder
        assert entered == ["holder"]
        assert not locked_elsewhere(path)
        assert open_fds() == before

    async def test_a_waiter_on_a_removed_file_locks_the_one_there_now(self, tmp_path: Path) -> None:
        """When the holder removes the file it locked, the waiter that gets the lock on the
        removed inode starts over, so it holds the file the path names (which excludes the
        next comer)."""
        path = tmp_path / "a.lock"
        release = asyncio.Event()
        seen: list[bool] = []

        async def holder() -> None:
            async with filelock.held(path, remove=True):
                await release.wait()

        async def waiter() -> None:
            async with filelock.held(path):
                seen.append(path.exists() and locked_elsewhere(path))

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        second = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        assert seen == []
        release.set()
        await asyncio.gather(first, second)
        assert seen == [True]


class TestRepositoryLock:
    async def test_a_cancelled_git_request_leaves_the_repository_unlocked(
        self, tmp_path: Path
    ) -> None:
        """The lock of a mirrored repository (direct mode) held by one request: another
        request cancelled while it waits (a client gone) leaves neither a lock nor an fd, so
        the repository is free once the first is done."""
        from gomodproxy.sources.direct.git import _FileLock

        path = tmp_path / "repo.lock"
        before = open_fds()
        first, second = _FileLock(path), _FileLock(path)  # two workers
        release = asyncio.Event()

        async def hold() -> None:
            async with first.hold():
                await release.wait()

        async def wait() -> None:
            async with second.hold():
                pass

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(wait())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        await holder
        assert open_fds() == before
        assert not locked_elsewhere(path)
        async with second.hold():
            pass
