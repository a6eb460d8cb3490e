"""The audit log: one JSON line per artifact served or refused, and per admin action.

Who downloaded what, for security reviews and licence audits; separate from the request log
(which is for debugging and may be sampled or turned off). Enabled by ``audit_log``: ``-``
for stdout, or a file path; a file is rotated when it grows past ``audit_log_max_bytes``
(``<file>.1`` … ``<file>.<audit_log_backups>``, oldest dropped).

Fields (every line has all of them; empty string when not applicable)::

    time          RFC 3339 UTC with milliseconds
    event         download (status < 400), not_found (the version or module does not exist,
                  or the path is invalid), refused (access control, rate limit, checksum
                  database), failed (our or an upstream fault), purge (admin)
    client        client address
    identity      authenticated user name; "" when anonymous
    module        module path (unescaped)
    version       version as asked (unescaped)
    artifact      info | mod | zip
    source        where the bytes came from: memory, storage, or the upstream's name
    cache         hit | miss | stale | "" (error before any lookup)
    verification  checked (verified against the checksum database on this fetch),
                  stored (served from storage or memory: verified when it was stored),
                  exempt (GONOSUMDB/GOPRIVATE or GOSUMDB=off), refused (mismatch), ""
    status        HTTP status sent
    outcome       success | failure, the download-success SLI (gomodproxy.ops.sli)
    error         the error text for a non-2xx answer, else ""

Lines are buffered and written at most every 0.2 s and on shutdown, so a request never waits
on a write. Several worker processes may append to the same file (``O_APPEND``, whole lines);
rotation is done under an ``flock`` on ``<file>.lock`` and a worker whose file was rotated by
another reopens it by inode.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from gomodproxy.config.settings import OpsSettings
from gomodproxy.ops.linebuffer import BufferedLines

FIELDS = (
    "time",
    "event",
    "client",
    "identity",
    "module",
    "version",
    "artifact",
    "source",
    "cache",
    "verification",
    "status",
    "outcome",
    "error",
)


def rfc3339(t: float) -> str:
    """``2026-01-02T03:04:05.678Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def make_record(t: float, **fields: Any) -> dict[str, Any]:
    """An audit record with every field of ``FIELDS`` in order (missing ones empty)."""
    record: dict[str, Any] = {"time": rfc3339(t)}
    for name in FIELDS[1:]:
        value = fields.pop(name, "")
        record[name] = value if value is not None else ""
    if fields:
        raise TypeError(f"unknown audit fields: {', '.join(sorted(fields))}")
    return record


class AuditLog(BufferedLines):
    """Buffered JSON-lines writer to stdout or a size-rotated file."""

    def __init__(
        self,
        target: str,
        *,
        max_bytes: int = OpsSettings.audit_log_max_bytes,
        backups: int = OpsSettings.audit_log_backups,
        interval: float = 0.2,
        stream: IO[str] | None = None,
    ) -> None:
        super().__init__(interval)
        self.path: Path | None = None if target in ("-", "stdout") else Path(target)
        self.max_bytes = max_bytes
        self.backups = backups
        self._stream = stream
        self._file: IO[str] | None = None
        self._inode = 0

    def write(self, record: dict[str, Any]) -> None:
        """Queue one record; flushed within ``interval`` seconds (at once outside a loop)."""
        self.write_line(json.dumps(record, separators=(",", ":"), ensure_ascii=False))

    def _emit(self, text: str) -> None:
        if self.path is None:
            stream = self._stream or sys.stdout
            stream.write(text)
            stream.flush()
            return
        fh = self._open()
        fh.write(text)
        fh.flush()
        if self.max_bytes > 0 and os.fstat(fh.fileno()).st_size >= self.max_bytes:
            self._rotate()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    # -- file handling ------------------------------------------------------------------

    def _open(self) -> IO[str]:
        assert self.path is not None
        if self._file is not None:
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = -1
            if current == self._inode:
                return self._file
            self._file.close()  # rotated by another worker: follow the name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        self._inode = os.fstat(self._file.fileno()).st_ino
        return self._file

    def _rotate(self) -> None:
        assert self.path is not None
        path = self.path
        with open(f"{path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_size < self.max_bytes:
                    return  # another worker rotated it first
            except FileNotFoundError:
                return
            if self.backups <= 0:
                path.unlink()
            else:
                for i in range(self.backups - 1, 0, -1):
                    older = Path(f"{path}.{i}")
                    if older.exists():
                        os.replace(older, f"{path}.{i + 1}")
                os.replace(path, f"{path}.1")
        self._open()
