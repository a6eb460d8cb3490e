"""Download directories: one per process, locked while it lives, removed by the next process
once their owner is gone."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gomodproxy.localfs.tempdir import ORPHAN_AGE, DownloadDir


def test_live_directory_kept_dead_ones_removed(tmp_path: Path) -> None:
    first = DownloadDir(tmp_path)
    live = first.path()
    assert (live / ".owner").is_file()
    # A dead owner: its lock file is there but nobody holds the lock.
    dead = tmp_path / "gomodproxy-dead"
    dead.mkdir()
    (dead / ".owner").touch()
    # Killed between mkdir and the lock file: judged by age.
    old, young = tmp_path / "gomodproxy-old", tmp_path / "gomodproxy-young"
    old.mkdir()
    young.mkdir()
    past = time.time() - ORPHAN_AGE - 10
    os.utime(old, (past, past))
    second = DownloadDir(tmp_path)
    mine = second.path()
    assert live.is_dir()  # its lock is held
    assert not dead.exists()
    assert not old.exists()
    assert young.is_dir()
    assert mine != live
    first.close()
    assert not live.exists()
    second.close()
    assert not mine.exists()


def test_new_file_and_close(tmp_path: Path) -> None:
    downloads = DownloadDir(tmp_path / "parent")
    f = downloads.new_file("fetch-", ".zip")
    assert f.is_file()
    assert f.name.startswith("fetch-")
    assert f.parent.parent == tmp_path / "parent"
    downloads.close()
    assert not f.parent.exists()
    downloads.close()  # twice is fine
