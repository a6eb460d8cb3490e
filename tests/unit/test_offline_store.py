"""Offline serving from a store (sources.store) and the bundle manifest and archive."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from gomodproxy.bundle.archive import BundleWriter, read_members
from gomodproxy.bundle.manifest import FORMAT, Entry, Manifest, is_bundle_key
from gomodproxy.errors import InvalidInput, NotFound
from gomodproxy.sources.store import StoreSource, latest_from_list, versions_from_keys
from gomodproxy.storage.memory import MemoryStore
from tests.unit.test_sumdb_verify import FakeDB, make_db, make_log

P1 = "v0.0.0-20230102030405-abcdefabcdef"
P2 = "v0.0.0-20240102030405-abcdefabcdef"
SHA = "0" * 64
H1 = "h1:" + "C" * 43 + "="


class TestStoreSource:
    async def test_list_is_the_canonical_versions_with_a_mod_file_in_semver_order(self) -> None:
        """As rewriteVersionList: .mod files only, canonical names only, semver-sorted."""
        names = ["v1.10.0.mod", "v1.2.0.mod", "v1.2.0.zip", "v1.3.0.info", "v1.2.mod", "list"]
        assert versions_from_keys(names) == ["v1.2.0", "v1.10.0"]

    def test_latest_is_the_newest_pseudo_version(self) -> None:
        """As latestFromList: tagged versions ignored, the newest pseudo-version wins."""
        assert latest_from_list(["v1.0.0", P2, P1]) == P2
        assert latest_from_list(["v1.0.0"]) is None

    async def test_answers_from_the_store_only(self, tmp_path: Path) -> None:
        """Lists, latest, .info/.mod/.zip come from the store; anything absent is NotFound."""
        store = MemoryStore()
        info = json.dumps({"Version": P1}).encode()
        await store.put(f"example.com/m/@v/{P1}.info", info)
        await store.put(f"example.com/m/@v/{P1}.mod", b"module example.com/m\n")
        await store.put(f"example.com/m/@v/{P1}.zip", b"zipbytes")
        await store.put("example.com/m/sub/@v/v1.0.0.mod", b"module example.com/m/sub\n")
        src = StoreSource(store)
        assert await src.list("example.com/m") == f"{P1}\n".encode()
        assert await src.latest("example.com/m") == info
        assert await src.mod("example.com/m", P1) == b"module example.com/m\n"
        await src.zip("example.com/m", P1, tmp_path / "z")
        assert (tmp_path / "z").read_bytes() == b"zipbytes"
        with pytest.raises(NotFound):
            await src.list("example.com/absent")
        with pytest.raises(NotFound):
            await src.latest("example.com/m/sub")
        with pytest.raises(NotFound):
            await src.zip("example.com/m/sub", "v1.0.0", tmp_path / "z2")
        with pytest.raises(NotFound):
            await src.info("example.com/m", "main")
        await src.aclose()


class TestManifest:
    def test_round_trip(self) -> None:
        """to_json then parse gives the same entries."""
        m = Manifest(
            {
                "a.com/m/@v/v1.0.0.zip": Entry("a.com/m/@v/v1.0.0.zip", 3, SHA, H1),
                "sumdb/s.example/tile/8/0/000": Entry("sumdb/s.example/tile/8/0/000", 8192, SHA),
            },
            "2026-01-01T00:00:00Z",
        )
        assert Manifest.parse(m.to_json()) == m

    @pytest.mark.parametrize(
        ("files", "message"),
        [
            ("x", "files is not a list"),
            (["x"], "files[0] is not an object"),
            ([{"key": 1}], "key is not a string"),
            ([{"key": "../x"}], "element starting with '.'"),
            ([{"key": "_meta/x/y/z"}], "is not a module file or checksum database data"),
            ([{"key": "a.com/m/@v/list"}], "is not a module file"),
            ([{"key": "a.com/m/@v/v1.0.0.info", "size": -1}], "size is not"),
            ([{"key": "a.com/m/@v/v1.0.0.info", "size": 1, "sha256": "AB"}], "sha256 is not"),
            (
                [{"key": "a.com/m/@v/v1.0.0.mod", "size": 1, "sha256": SHA}],
                "h1 is missing or malformed",
            ),
            (
                [{"key": "a.com/m/@v/v1.0.0.info", "size": 1, "sha256": SHA, "h1": H1}],
                "only .mod and .zip files carry an h1",
            ),
            (
                [{"key": "a.com/m/@v/v1.0.0.info", "size": 1, "sha256": SHA}] * 2,
                "is listed twice",
            ),
        ],
    )
    def test_malformed_entries_are_refused_precisely(self, files: object, message: str) -> None:
        """Each malformed manifest names what is wrong."""
        with pytest.raises(InvalidInput) as e:
            Manifest.parse(json.dumps({"format": FORMAT, "files": files}).encode())
        assert message in str(e.value)

    def test_not_a_manifest(self) -> None:
        """Garbage and other formats are refused."""
        with pytest.raises(InvalidInput, match="not valid JSON"):
            Manifest.parse(b"\xff")
        with pytest.raises(InvalidInput, match="format 'x'"):
            Manifest.parse(b'{"format": "x"}')

    def test_bundle_keys(self) -> None:
        """Module files and sumdb lookups/tiles travel; lists, hashes and _meta do not."""
        assert is_bundle_key("a.com/m/@v/v1.0.0.mod")
        assert is_bundle_key("sumdb/s.example/lookup/a.com/m@v1.0.0")
        assert not is_bundle_key("a.com/m/@v/v1.0.0.ziphash")
        assert not is_bundle_key("a.com/m/@latest")
        assert not is_bundle_key("sumdb/s.example/latest")


class TestArchive:
    @pytest.mark.parametrize("compress", [True, False])
    def test_round_trip(self, tmp_path: Path, compress: bool) -> None:
        """Members come back in order, compressed with zstd or not."""
        path = tmp_path / "b"
        w = BundleWriter(path, compress=compress)
        w.add_bytes("manifest.json", b"{}")
        w.add_file("a/b", io.BytesIO(b"xyz"), 3)
        w.close()
        assert (path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd") is compress
        assert [(n, s.read()) for n, s in read_members(path)] == [
            ("manifest.json", b"{}"),
            ("a/b", b"xyz"),
        ]

    def test_gzip_and_links(self, tmp_path: Path) -> None:
        """A gzip-recompressed bundle reads; a symlink member is refused."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("x")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"1"))
            link = tarfile.TarInfo("l")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tar.addfile(link)
        (tmp_path / "b.gz").write_bytes(gzip.compress(buf.getvalue()))
        members = read_members(tmp_path / "b.gz")
        assert next(members)[0] == "x"
        with pytest.raises(InvalidInput, match="is not a regular file"):
            next(members)

    def test_not_a_bundle(self, tmp_path: Path) -> None:
        """Random bytes are a precise error, not a traceback."""
        (tmp_path / "junk").write_bytes(b"\x28\xb5\x2f\xfdjunk")
        with pytest.raises(InvalidInput, match="not a readable bundle"):
            list(read_members(tmp_path / "junk"))


class TestSumdbSharing:
    async def test_concurrent_lookups_of_one_record_read_it_once(self) -> None:
        """A module's go.mod and zip verified at once cost one lookup request."""
        fake = FakeDB(make_log())
        db = make_db(fake)
        await asyncio.gather(
            db.lookup("example.com/a", "v1.0.0"), db.lookup("example.com/a", "v1.0.0/go.mod")
        )
        assert fake.hits.count("/lookup/example.com/a@v1.0.0") == 1

    async def test_offline_passthrough_serves_prefixes_of_wider_tiles(self) -> None:
        """Offline, a narrower partial tile is cut from a wider stored one; absent data is a
        404, never a request to the database."""
        fake = FakeDB(make_log())
        store = MemoryStore()
        online = make_db(fake, store)
        wide = await online.passthrough("tile/8/0/001.p/45")
        assert wide.status == 200
        offline = make_db(fake, store)
        offline.offline = True
        fake.hits.clear()
        narrow = await offline.passthrough("tile/8/0/001.p/7")
        assert narrow.body == wide.body[: 7 * 32]
        with pytest.raises(NotFound):
            await offline.passthrough("lookup/example.com/a@v1.0.0")
        assert fake.hits == []
