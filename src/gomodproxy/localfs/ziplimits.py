"""How many entries a module zip from an upstream may have, counted before it is opened.

Reading a zip's central directory makes one object per entry: a 78 MB zip of 600,000 empty
files raised a worker from 58 to 511 MiB while it was checked, though x/mod accepts it (it
bounds sizes, not counts). So the entries are counted first, straight from the central
directory's bytes (46 fixed bytes and three lengths each, streamed in 1 MiB reads), and a
zip with more than ``MAX_ZIP_ENTRIES`` is refused. Real modules stay far below: the largest
module zips we know of hold tens of thousands of files.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from gomodproxy.errors import InvalidInput

#: Most entries a module zip may have.
MAX_ZIP_ENTRIES = 100_000

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_CHUNK = 1 << 20


def check_entry_count(path: str | os.PathLike[str], limit: int = MAX_ZIP_ENTRIES) -> int:
    """The number of central-directory entries of the zip at ``path``; a zip that is not
    readable this way is left to the zip checks (which refuse it) and counts 0.

    Raises:
        InvalidInput: more than ``limit`` entries (declared or present).
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        tail_len = min(size, 22 + 65535)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            return 0
        declared = struct.unpack_from("<H", tail, at + 10)[0]
        (cd_size,) = struct.unpack_from("<I", tail, at + 12)
        cd_end = size - tail_len + at
        locator = at - 20
        if locator >= 0 and tail[locator : locator + 4] == _EOCD64_LOCATOR:
            (eocd64_pos,) = struct.unpack_from("<Q", tail, locator + 8)
            f.seek(eocd64_pos)
            record = f.read(56)
            if len(record) == 56 and record[:4] == _EOCD64:
                _, declared, cd_size = struct.unpack_from("<QQQ", record, 24)
                cd_end = eocd64_pos
        if declared > limit:
            raise _too_many(declared, limit)
        # Data may precede the zip (zipfile allows it): the directory ends where the end
        # record begins.
        start = cd_end - cd_size
        if start < 0 or cd_size // 46 <= limit:
            return int(declared)
        return _count(f, start, cd_size, limit)


def _count(f: BinaryIO, start: int, cd_size: int, limit: int) -> int:
    """Walk the directory's headers (read in 1 MiB pieces) until its end or past ``limit``."""
    buf = b""
    base = start  # file offset of buf[0]
    offset = start  # file offset of the next header
    end = start + cd_size
    count = 0
    while offset + 46 <= end:
        if offset + 46 > base + len(buf):
            f.seek(offset)
            buf, base = f.read(_CHUNK), offset
            if len(buf) < 46:
                break
        at = offset - base
        if buf[at : at + 4] != _CENTRAL:
            break  # not a directory entry: the zip checks will say what is wrong
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", buf, at + 28)
        offset += 46 + name_len + extra_len + comment_len
        count += 1
        if count > limit:
            raise _too_many(count, limit)
    return count


def _too_many(count: int, limit: int) -> InvalidInput:
    return InvalidInput(f"zip: {count} entries exceed the limit of {limit}")
