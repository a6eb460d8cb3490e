"""Reading and writing the bundle's tar stream, zstd-compressed or plain.

Writing streams: members are added one after the other, never the whole bundle in memory.
Reading tells the compression from the first bytes (zstd frame magic, gzip magic, else a
plain tar), so a bundle someone recompressed or unpacked-and-retarred still imports.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO, cast

import zstandard

from gomodproxy.errors import InvalidInput

__all__ = ["ZSTD_MAGIC", "BundleWriter", "read_members"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"


class BundleWriter:
    """A tar stream written to ``path``; ``add_bytes``/``add_file`` append members."""

    def __init__(self, path: Path, *, compress: bool = True, level: int = 3) -> None:
        self._stack = contextlib.ExitStack()
        raw = self._stack.enter_context(path.open("wb"))
        out: IO[bytes] = raw
        if compress:
            writer = zstandard.ZstdCompressor(level=level).stream_writer(raw, closefd=False)
            out = cast(IO[bytes], self._stack.enter_context(writer))
        self._tar = tarfile.open(  # noqa: SIM115 - closed by close() through the stack
            fileobj=out, mode="w|", format=tarfile.PAX_FORMAT
        )
        self._stack.callback(self._tar.close)

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0
        return info

    def add_bytes(self, name: str, data: bytes) -> None:
        self._tar.addfile(self._info(name, len(data)), io.BytesIO(data))

    def add_file(self, name: str, src: BinaryIO, size: int) -> None:
        self._tar.addfile(self._info(name, size), src)

    def close(self) -> None:
        self._stack.close()


def _open(path: Path, stack: contextlib.ExitStack) -> IO[bytes]:
    raw = stack.enter_context(path.open("rb"))
    head = raw.read(4)
    raw.seek(0)
    if head.startswith(ZSTD_MAGIC):
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=False)
        return cast(IO[bytes], stack.enter_context(reader))
    if head.startswith(_GZIP_MAGIC):
        return cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=raw)))
    return raw


def read_members(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """Yield ``(name, stream)`` for each regular member, in archive order.

    Raises:
        InvalidInput: the file is not a (compressed) tar, or holds links or devices.
    """
    with contextlib.ExitStack() as stack:
        try:
            tar = stack.enter_context(tarfile.open(fileobj=_open(path, stack), mode="r|"))
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise InvalidInput(f"bundle member {member.name!r} is not a regular file")
                stream = tar.extractfile(member)
                assert stream is not None
                yield member.name, stream
        except (tarfile.TarError, zstandard.ZstdError, OSError, EOFError) as exc:
            raise InvalidInput(f"{path}: not a readable bundle: {exc}") from None
