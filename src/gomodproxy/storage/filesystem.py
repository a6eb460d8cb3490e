"""A BlobStore in a directory that is itself a valid ``file://`` GOPROXY.

The tree is exactly the keys: ``<root>/<escaped path>/@v/<version>.info|.mod|.zip``, so the go
command, nginx or a plain ``cp -r`` can use it without us.

Writes are atomic: the value goes to a temporary file in the key's own directory (so the final
``rename`` never crosses a filesystem), is fsynced, then renamed over the key, and the directory
is fsynced. Temporary names start with ``.tmp-``, which no key element can
(``ports/keys.py``), so they never collide with a key, and ``list`` skips them. A failed write
removes its temp file. Blocking calls run in worker threads; reads are streamed in chunks.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

from gomodproxy.errors import NotFound, StorageError
from gomodproxy.ports.keys import TEMP_PREFIX, check_key, check_prefix
from gomodproxy.ports.storage import BlobInfo, StandaloneStore

CHUNK = 256 * 1024
_FILE_MODE = 0o644


@contextmanager
def _mapped(key: str, op: str) -> Iterator[None]:
    """Turn an ``OSError`` into ``StorageError`` (the message names the key, not the root)."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"filesystem storage: {op} {key}: {exc.strerror or exc}") from exc


class FilesystemStore(StandaloneStore):
    """Keys as files under ``root``."""

    kind = "filesystem"
    root: Path

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"filesystem storage: cannot create {self.root}: {exc}") from exc

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key

    # -- reads ---------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        with _mapped(key, "read"):
            return await asyncio.to_thread(_read_or_none, path)

    async def stat(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        with _mapped(key, "stat"):
            st = await asyncio.to_thread(_stat_file, path)
        if st is None:
            return None
        return BlobInfo(size=st.st_size, mtime=st.st_mtime, local_path=path)

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        with _mapped(key, "read"):
            try:
                f = await asyncio.to_thread(open, path, "rb")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise NotFound(f"{key}: not stored") from None
        try:
            if start:
                f.seek(start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                n = CHUNK if remaining is None else min(CHUNK, remaining)
                with _mapped(key, "read"):
                    chunk = await asyncio.to_thread(f.read, n)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def list(self, prefix: str = "") -> AsyncIterator[str]:
        check_prefix(prefix)
        with _mapped(prefix, "list"):
            keys = await asyncio.to_thread(_walk, self.root, prefix)
        for key in keys:
            yield key

    # -- writes --------------------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with _mapped(key, "write"):
            await asyncio.to_thread(_write_atomic, path, data)

    async def put_file(self, key: str, src: Path) -> None:
        path = self._path(key)
        with _mapped(key, "write"):
            await asyncio.to_thread(_move_atomic, path, Path(src))

    async def delete(self, key: str) -> bool:
        path = self._path(key)
        with _mapped(key, "delete"):
            return await asyncio.to_thread(_unlink, path)

    async def aclose(self) -> None:
        return None


# -- blocking helpers (run in threads) -------------------------------------------------------


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _stat_file(path: Path) -> os.stat_result | None:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st if os.path.isfile(path) else None


def _temp_path(final: Path) -> Path:
    return final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}")


def _open_temp(final: Path) -> tuple[int, Path]:
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _temp_path(final)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE), tmp
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue


def _commit(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` over ``final`` and make the rename durable."""
    os.replace(tmp, final)
    dfd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _write_atomic(final: Path, data: bytes) -> None:
    fd, tmp = _open_temp(final)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _move_atomic(final: Path, src: Path) -> None:
    """Move ``src`` in by rename when it is on the same filesystem, else copy it to a temp."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(final)
    try:
        try:
            os.rename(src, tmp)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, CHUNK * 4)
        else:
            os.chmod(tmp, _FILE_MODE)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _commit(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False
    return True


def _walk(root: Path, prefix: str) -> list[str]:
    """Every key under ``root`` starting with ``prefix``, skipping temp and hidden names."""
    base_rel = prefix.rpartition("/")[0]
    base = root / base_rel if base_rel else root
    if not base.is_dir():
        return []
    keys: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        if not (rel.startswith(prefix) or prefix.startswith(rel)):
            dirnames.clear()
            continue
        keys.extend(
            rel + name
            for name in filenames
            if not name.startswith(".") and (rel + name).startswith(prefix)
        )
    return keys
