"""A process's directory for downloads in progress, and the removal of those of dead ones."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

#: Seconds after which a download directory without its ``.owner`` lock file is abandoned
#: (it is created right after the directory, so only a process killed in between leaves one).
ORPHAN_AGE = 60.0


class DownloadDir:
    """``gomodproxy-*`` under ``parent`` (the system temp dir when None), made on first use.

    The process holds an ``flock`` on ``.owner`` inside it for its lifetime, so another
    process can tell a directory left by a dead one (SIGKILL, power loss: the kernel dropped
    the lock) and remove it; ``close`` removes this one.
    """

    def __init__(self, parent: str | Path | None = None) -> None:
        self.parent = Path(parent) if parent else None
        self._path: Path | None = None
        self._owner_fd = -1

    def path(self) -> Path:
        if self._path is None:
            if self.parent is not None:
                self.parent.mkdir(parents=True, exist_ok=True)
                remove_orphans(self.parent)
            path = Path(tempfile.mkdtemp(prefix="gomodproxy-", dir=self.parent))
            self._owner_fd = os.open(path / ".owner", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._owner_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._path = path
        return self._path

    def new_file(self, prefix: str, suffix: str) -> Path:
        """A new empty file in the directory (the caller removes it)."""
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=self.path())
        os.close(fd)
        return Path(name)

    def close(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            os.close(self._owner_fd)
            self._path = None


def remove_orphans(parent: Path) -> None:
    """Remove download directories whose owner process died (its ``.owner`` lock is free)."""
    for child in parent.glob("gomodproxy-*"):
        try:
            fd = os.open(child / ".owner", os.O_RDWR)
        except FileNotFoundError:
            # Being created right now, or left before its lock existed: judge by age.
            with contextlib.suppress(OSError):
                if time.time() - child.stat().st_mtime > ORPHAN_AGE:
                    shutil.rmtree(child, ignore_errors=True)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live process owns it
        finally:
            os.close(fd)
        shutil.rmtree(child, ignore_errors=True)
