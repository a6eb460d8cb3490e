"""Module zips are refused by their entry count, read from the central directory."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.localfs.ziplimits import check_entry_count


def _zip(n: int, **kw: bool) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, **kw) as zf:
        for i in range(n):
            zf.writestr(f"m@v1.0.0/f{i}", b"")
    return buf.getvalue()


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "m.zip"
    path.write_bytes(data)
    return path


def test_counts_within_the_limit(tmp_path: Path) -> None:
    """An honest zip's count is its entries."""
    assert check_entry_count(_write(tmp_path, _zip(60)), limit=60) == 60


def test_declared_count_over_the_limit(tmp_path: Path) -> None:
    """The end record's count is enough to refuse."""
    with pytest.raises(InvalidInput, match="61 entries exceed the limit of 60"):
        check_entry_count(_write(tmp_path, _zip(61)), limit=60)


def test_lying_declared_count_is_counted_from_the_directory(tmp_path: Path) -> None:
    """An end record claiming 3 entries does not hide 200 in the directory."""
    data = bytearray(_zip(200))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 3, 3)
    with pytest.raises(InvalidInput, match="61 entries exceed the limit of 60"):
        check_entry_count(_write(tmp_path, bytes(data)), limit=60)


def test_data_before_the_zip(tmp_path: Path) -> None:
    """A zip with bytes in front (as zipfile accepts) is counted from the right place."""
    data = bytearray(b"#!/bin/sh\n" * 10 + _zip(200))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 3, 3)
    with pytest.raises(InvalidInput, match="exceed the limit of 60"):
        check_entry_count(_write(tmp_path, bytes(data)), limit=60)


def test_zip64_count(tmp_path: Path) -> None:
    """Past 65,535 entries the count is in the zip64 end record."""
    path = _write(tmp_path, _zip(65_600))
    assert check_entry_count(path, limit=65_600) == 65_600
    with pytest.raises(InvalidInput, match="65600 entries exceed the limit of 65599"):
        check_entry_count(path, limit=65_599)


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x05\x06"], ids=["empty", "text", "short"])
def test_not_a_zip_is_left_to_the_zip_checks(tmp_path: Path, data: bytes) -> None:
    """Nothing to count: 0, and the zip checks refuse the file."""
    assert check_entry_count(_write(tmp_path, data)) == 0
