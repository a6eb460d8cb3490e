"""The BlobStore contract (ports/storage.py), run over every backend by the ``store`` fixture."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from gomodproxy.errors import InvalidInput, NotFound
from gomodproxy.ports.storage import BlobStore

INFO = "example.com/mod/@v/v1.0.0.info"
MIB = 1024 * 1024


async def read_stream(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([c async for c in store.stream(key, start, end)])


async def all_keys(store: BlobStore, prefix: str = "") -> set[str]:
    return {k async for k in store.list(prefix)}


class TestCapabilities:
    async def test_declared_capabilities(self, store: BlobStore) -> None:
        """A backend on its own cannot degrade and is not degraded; its start-up check
        passes on a usable store; only a filesystem store has a local root (the tree)."""
        await store.check()
        assert store.can_degrade is False
        assert store.degraded is False
        if store.kind == "filesystem":
            assert store.root is not None
            await store.put(INFO, b"{}")
            assert (store.root / INFO).read_bytes() == b"{}"
        else:
            assert store.root is None


class TestMissingKeys:
    async def test_missing_key_reads_as_none(self, store: BlobStore) -> None:
        """get/stat give None, delete gives False, list gives nothing: never an exception."""
        assert await store.get(INFO) is None
        assert await store.stat(INFO) is None
        assert await store.delete(INFO) is False
        assert await all_keys(store) == set()

    async def test_stream_of_missing_key_raises_not_found(self, store: BlobStore) -> None:
        """Streaming a missing key raises NotFound."""
        with pytest.raises(NotFound):
            await read_stream(store, INFO)

    async def test_prefix_of_a_key_is_not_a_key(self, store: BlobStore) -> None:
        """A directory-like prefix of a stored key does not read as a value."""
        await store.put(INFO, b"{}")
        assert await store.get("example.com/mod/@v") is None
        assert await store.stat("example.com/mod") is None


class TestRoundTrip:
    async def test_put_get_stat(self, store: BlobStore) -> None:
        """A put value reads back whole, with its size and a recent mtime."""
        await store.put(INFO, b'{"Version":"v1.0.0"}')
        assert await store.get(INFO) == b'{"Version":"v1.0.0"}'
        info = await store.stat(INFO)
        assert info is not None
        assert info.size == 20
        assert info.mtime > 0

    async def test_overwrite_replaces_whole_value(self, store: BlobStore) -> None:
        """A second put replaces the first value, even when shorter."""
        await store.put(INFO, b"a much longer first value")
        await store.put(INFO, b"short")
        assert await store.get(INFO) == b"short"

    async def test_empty_value(self, store: BlobStore) -> None:
        """An empty value is stored and is not the same as a missing key."""
        await store.put("example.com/mod/@v/list", b"")
        assert await store.get("example.com/mod/@v/list") == b""
        assert await read_stream(store, "example.com/mod/@v/list") == b""

    async def test_put_file(self, store: BlobStore, tmp_path: Path) -> None:
        """put_file stores the content of a prepared file."""
        src = tmp_path / "upload.zip"
        src.write_bytes(b"PK zip bytes")
        await store.put_file("example.com/mod/@v/v1.0.0.zip", src)
        assert await store.get("example.com/mod/@v/v1.0.0.zip") == b"PK zip bytes"

    async def test_delete(self, store: BlobStore) -> None:
        """delete removes the key and reports that it existed."""
        await store.put(INFO, b"x")
        assert await store.delete(INFO) is True
        assert await store.get(INFO) is None
        assert await all_keys(store) == set()

    @pytest.mark.parametrize(
        ("start", "end", "want"),
        [(0, None, b"0123456789"), (3, None, b"3456789"), (2, 5, b"234"), (10, None, b"")],
    )
    async def test_stream_ranges(
        self, store: BlobStore, start: int, end: int | None, want: bytes
    ) -> None:
        """stream(start, end) yields exactly the bytes [start, end)."""
        await store.put(INFO, b"0123456789")
        assert await read_stream(store, INFO, start, end) == want


class TestPaths:
    async def test_unicode_and_case_are_distinct_keys(self, store: BlobStore) -> None:
        """Keys differing only in case or in unicode form are different keys."""
        keys = [
            "example.com/!azure/x/@v/v1.0.0.info",
            "example.com/azure/x/@v/v1.0.0.info",
            "_meta/Ünïcödé/Key",
            "_meta/ünïcödé/key",
            "_meta/日本語/v1.0.0+incompatible.mod",
        ]
        for i, key in enumerate(keys):
            await store.put(key, str(i).encode())
        for i, key in enumerate(keys):
            assert await store.get(key) == str(i).encode()
        assert await all_keys(store) == set(keys)

    @pytest.mark.parametrize(
        "key",
        ["", "/abs/key", "a//b", "a/../b", "a/./b", "trailing/", "a/.hidden", "a\\b", "a/\x00"],
    )
    async def test_invalid_keys_are_refused(self, store: BlobStore, key: str) -> None:
        """Keys that could escape the tree or collide with temp files raise InvalidInput."""
        with pytest.raises(InvalidInput):
            await store.put(key, b"x")
        with pytest.raises(InvalidInput):
            await store.get(key)


class TestListing:
    async def test_list_by_prefix(self, store: BlobStore) -> None:
        """list(prefix) yields every key starting with the prefix, even mid-element."""
        keys = {
            "example.com/a/@v/list",
            "example.com/a/@v/v1.0.0.info",
            "example.com/a/@v/v1.0.0.mod",
            "example.com/ab/@v/v0.1.0.zip",
            "example.com/b/@latest",
            "sumdb/sum.example/tile/8/0/000",
        }
        for key in keys:
            await store.put(key, b"x")
        assert await all_keys(store) == keys
        assert await all_keys(store, "example.com/") == keys - {"sumdb/sum.example/tile/8/0/000"}
        assert await all_keys(store, "example.com/a/") == {
            "example.com/a/@v/list",
            "example.com/a/@v/v1.0.0.info",
            "example.com/a/@v/v1.0.0.mod",
        }
        assert await all_keys(store, "example.com/a") == {
            k for k in keys if k.startswith("example.com/a")
        }
        assert await all_keys(store, "example.com/a/@v/v1.0.0.") == {
            "example.com/a/@v/v1.0.0.info",
            "example.com/a/@v/v1.0.0.mod",
        }
        assert await all_keys(store, "nothing/") == set()


class TestConcurrency:
    async def test_concurrent_writers_leave_one_whole_value(self, store: BlobStore) -> None:
        """Many concurrent writers of one key leave exactly one writer's whole value."""
        values = [bytes([i]) * (64 * 1024 + i) for i in range(16)]
        await asyncio.gather(*(store.put(INFO, v) for v in values))
        assert await store.get(INFO) in values
        assert await all_keys(store) == {INFO}

    async def test_readers_never_see_a_partial_value(self, store: BlobStore) -> None:
        """While a large value is rewritten, readers see the old or the new one, whole."""
        old, new = b"o" * (4 * MIB), b"n" * (4 * MIB + 1)
        await store.put(INFO, old)
        seen: set[int] = set()

        async def reader() -> None:
            for _ in range(20):
                got = await store.get(INFO)
                assert got in (old, new)
                seen.add(len(got or b""))
                await asyncio.sleep(0)

        await asyncio.gather(reader(), store.put(INFO, new), store.put(INFO, old), reader())
        assert seen <= {len(old), len(new)}


class TestLargeBlobs:
    async def test_large_blob_streams_in_bounded_chunks(
        self, store: BlobStore, tmp_path: Path
    ) -> None:
        """A 24 MiB zip goes in with put_file and comes out streamed in chunks, byte-exact."""
        src = tmp_path / "big.zip"
        data = os.urandom(MIB) * 24
        src.write_bytes(data)
        key = "example.com/big/@v/v1.0.0.zip"
        await store.put_file(key, src)
        info = await store.stat(key)
        assert info is not None
        assert info.size == len(data)
        digest = hashlib.sha256()
        biggest = 0
        async for chunk in store.stream(key):
            digest.update(chunk)
            biggest = max(biggest, len(chunk))
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
        assert biggest <= 8 * MIB
        tail = await read_stream(store, key, len(data) - 10)
        assert tail == data[-10:]
