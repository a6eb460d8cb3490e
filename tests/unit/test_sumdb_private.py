"""The private checksum database (checksumdb.private) and the /sumdb/ routes: lookups that
append records on demand, persistence across instances, tiles, syntax errors, unknown names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gomodproxy.checksumdb.private import PrivateSumdb
from gomodproxy.errors import InvalidInput, NotFound
from gomodproxy.server.sumdb_routes import SumdbRoutes
from gomodproxy.storage.memory import MemoryStore
from gomodproxy.sumdb import client as sc
from gomodproxy.sumdb import note, tlog
from gomodproxy.sumdb.server import Log, gosum_record
from gomodproxy.sumdb.tile import full_tile, parse_tile_path

NAME = "corp.example/sumdb"
SKEY, VKEY = note.generate_key(NAME, bytes(32))
H1 = "h1:" + "Q" * 43 + "="


class YieldingStore(MemoryStore):
    """A store that lets other tasks run while it reads and writes, as one on disk or the
    network does."""

    async def get(self, key: str) -> bytes | None:
        await asyncio.sleep(0)
        return await super().get(key)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.sleep(0)
        await super().put(key, data)


def private(
    store: MemoryStore, fetched: list[str] | None = None, lock_dir: Path | None = None
) -> PrivateSumdb:
    async def fetch(path: str, version: str) -> tuple[str, str]:
        if fetched is not None:
            fetched.append(f"{path}@{version}")
        if version == "v9.9.9":
            raise NotFound("no such version")
        return H1, H1

    return PrivateSumdb(
        note.new_signer(SKEY), store, patterns="corp.example", fetch_hashes=fetch, lock_dir=lock_dir
    )


async def verify_with_client(db: PrivateSumdb, path: str, version: str) -> list[str]:
    """Run the sans-IO client against the private database's endpoints."""
    c = sc.Client(VKEY)
    flow = c.lookup(path, version)
    answer: object = None
    config: dict[str, bytes] = {}
    while True:
        try:
            req = flow.send(answer)
        except StopIteration as stop:
            result: list[str] = stop.value
            return result
        if isinstance(req, sc.ReadRemote):
            answer = (await db.handle(req.path.lstrip("/"))).body
        elif isinstance(req, sc.ReadTiles):
            out = []
            for t in req.tiles:
                try:
                    out.append((await db.handle(t.path())).body)
                except NotFound:
                    out.append((await db.handle(full_tile(t).path())).body[: t.w * 32])
            answer = out
        elif isinstance(req, sc.ReadConfig):
            answer = config.get(req.key, b"")
        elif isinstance(req, sc.WriteConfig):
            config[req.key] = req.new
            answer = True
        else:
            answer = None


class TestPrivateDatabase:
    async def test_lookup_appends_and_verifies(self) -> None:
        """A lookup of a covered module fetches its hashes once and serves a record that the
        client authenticates."""
        fetched: list[str] = []
        db = private(MemoryStore(), fetched)
        for i in range(5):
            lines = await verify_with_client(db, f"corp.example/m{i}", "v1.0.0")
            assert lines == [f"corp.example/m{i} v1.0.0 {H1}"]
        await verify_with_client(db, "corp.example/m0", "v1.0.0/go.mod")
        assert len(fetched) == 5
        assert db.log.size == 5

    async def test_log_persists_and_is_shared(self) -> None:
        """Another instance over the same storage (a restart, another worker) sees the same
        log, and appends after it."""
        store = MemoryStore()
        first = private(store)
        await first.handle("lookup/corp.example/a@v1.0.0")
        second = private(store)
        latest = await second.handle("latest")
        assert latest.body == first.log.signed_tree(first.signer)
        await second.handle("lookup/corp.example/b@v1.0.0")
        await first.handle("lookup/corp.example/c@v1.0.0")
        assert [first.log.find(f"corp.example/{m}", "v1.0.0") for m in "abc"] == [0, 1, 2]
        known = note.Verifiers([note.new_verifier(VKEY)])
        signed = (await first.handle("latest")).body
        tree = tlog.parse_tree(note.open_note(signed, known).text.encode())
        assert tree.n == 3

    async def test_workers_of_a_host_append_one_at_a_time(self, tmp_path: Path) -> None:
        """Workers (instances) sharing storage and the lock directory, appending at once,
        give every record its own id and lose none of them from the stored log."""
        store = YieldingStore()
        workers = [private(store, lock_dir=tmp_path) for _ in range(3)]
        paths = [f"corp.example/m{i}" for i in range(12)]
        await asyncio.gather(
            *(workers[i % 3].handle(f"lookup/{p}@v1.0.0") for i, p in enumerate(paths))
        )
        fresh = private(store)
        await fresh.handle("latest")
        ids = sorted(fresh.log.find(p, "v1.0.0") for p in paths)
        assert ids == list(range(len(paths)))
        assert [p.name for p in tmp_path.iterdir()] == ["sumdb-private-corp.example_sumdb.lock"]

    async def test_changed_hash_is_refused(self) -> None:
        """The log is append-only: a different record for a logged version is refused."""
        db = private(MemoryStore())
        await db.handle("lookup/corp.example/a@v1.0.0")
        other = "h1:" + "R" * 43 + "="
        text = f"corp.example/a v1.0.0 {other}\ncorp.example/a v1.0.0/go.mod {other}\n"
        with pytest.raises(InvalidInput, match="already holds different hashes"):
            await db.append(text.encode())

    async def test_errors(self) -> None:
        """Malformed lookups are 400, uncovered or unknown versions 404, tiles past the tree
        404."""
        db = private(MemoryStore())
        with pytest.raises(InvalidInput, match="invalid module@version syntax"):
            await db.handle("lookup/corp.example/a@latest")
        with pytest.raises(NotFound, match="not covered"):
            await db.handle("lookup/example.com/public@v1.0.0")
        with pytest.raises(NotFound):
            await db.handle("lookup/corp.example/a@v9.9.9")
        with pytest.raises(NotFound):
            await db.handle("tile/8/0/000")
        with pytest.raises(InvalidInput):
            await db.handle("tile/8/0/0")
        await db.handle("lookup/corp.example/a@v1.0.0")
        data = await db.handle("tile/8/data/000.p/1")
        assert (
            data.body
            == f"corp.example/a v1.0.0 {H1}\ncorp.example/a v1.0.0/go.mod {H1}\n\n".encode()
        )
        assert (await db.handle("tile/8/0/000.p/1")).body == db.log.hashes[0]
        assert parse_tile_path("tile/8/0/000.p/1").w == 1


class TestRoutes:
    async def test_routes(self) -> None:
        """Configured names are served, others are 404; errors become text/plain statuses."""
        routes = SumdbRoutes({}, private(MemoryStore()))
        status, headers, _ = await routes.answer(f"/sumdb/{NAME}/supported")
        assert status == 200
        status, _, body = await routes.answer(f"/sumdb/{NAME}/lookup/corp.example/a@v1.0.0")
        assert status == 200
        assert body.startswith(b"0\ncorp.example/a v1.0.0 ")
        assert (await routes.answer("/sumdb/sum.other.example/latest"))[0] == 404
        status, headers, body = await routes.answer(f"/sumdb/{NAME}/lookup/x@y")
        assert status == 400
        assert (b"cache-control", b"no-store") in headers


class TestLog:
    def test_log_rules(self) -> None:
        """An identical record is found again, not appended; malformed records and tiles of
        another height are refused; data tiles past the tree are not found."""
        log = Log()
        rec = gosum_record("corp.example/a", "v1.0.0", H1, H1)
        assert log.append(rec) == log.append(rec) == 0
        with pytest.raises(InvalidInput, match="malformed record data"):
            log.append(b"only-one-field\n")
        with pytest.raises(InvalidInput, match="tile height 2 is not 8"):
            log.tile(parse_tile_path("tile/2/0/000.p/1"))
        with pytest.raises(NotFound):
            log.tile(parse_tile_path("tile/8/data/000.p/2"))
