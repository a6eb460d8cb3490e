"""Verify-on-ingest and the sumdb I/O driver over a checksum database served from an in-memory
log through httpx.MockTransport: hash comparison as the go command does it, exemptions,
unreachable databases, the tile cache, fork quarantine, base-URL discovery, passthrough."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

import httpx
import pytest

from gomodproxy.checksumdb.database import Quarantined, SumdbDatabase, SumdbUnavailable
from gomodproxy.checksumdb.remote import SumdbRemote
from gomodproxy.checksumdb.verify import ChecksumMismatch, SumdbVerifier, from_settings
from gomodproxy.config.settings import CacheSettings, ChecksumDbSettings, UpstreamSettings
from gomodproxy.errors import (
    ConfigError,
    InvalidInput,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
    VerificationError,
)
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.gomod.sumdbenv import parse_gosumdb
from gomodproxy.server.http_errors import error_response
from gomodproxy.storage.memory import MemoryStore
from gomodproxy.sumdb import note
from gomodproxy.sumdb.client import ForkDetected
from gomodproxy.sumdb.server import Log, gosum_record
from gomodproxy.sumdb.tile import parse_tile_path

NAME = "sum.unit.example"
SKEY, VKEY = note.generate_key(NAME, bytes(range(32)))
SIGNER = note.new_signer(SKEY)
GOMOD = b"module example.com/a\n"
ZIP_H1 = "h1:" + "Z" * 43 + "="


def make_log(n: int = 300, *, tweak: int = -1) -> Log:
    log = Log()
    log.append(gosum_record("example.com/a", "v1.0.0", ZIP_H1, gomod_hash(GOMOD)))
    for i in range(n):
        h = "h1:" + ("Y" if i == tweak else "A") * 43 + "="
        log.append(gosum_record(f"example.org/f{i}", "v1.0.0", h, h))
    return log


class FakeDB:
    """A checksum database over HTTP, answering from a Log; counts requests per path."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.hits: list[str] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.hits.append(path)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        try:
            if path.startswith("/lookup/"):
                mod, _, ver = path.removeprefix("/lookup/").partition("@")
                body = self.log.lookup_body(self.log.find(mod, ver), self.log.signed_tree(SIGNER))
            elif path == "/latest":
                body = self.log.signed_tree(SIGNER)
            else:
                body = self.log.tile(parse_tile_path(path[1:]))
        except NotFound:
            return httpx.Response(404, text="not found")
        return httpx.Response(200, content=body)


class Counter:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def inc(
        self, name: str, help: str, labels: dict[str, str] | None = None, value: float = 1
    ) -> None:
        key = (name, tuple(sorted((labels or {}).items())))
        self.counts[key] = self.counts.get(key, 0) + value


def make_db(
    handler: Callable[[httpx.Request], httpx.Response],
    store: MemoryStore | None = None,
    gosumdb: str = f"{VKEY} http://db.test",
    goproxy: str = "direct",
) -> SumdbDatabase:
    spec = parse_gosumdb(gosumdb)
    assert spec is not None
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    remote = SumdbRemote(spec, goproxy, client=client)
    return SumdbDatabase(remote, store or MemoryStore(), key=spec.key, ttl=60)


class TestVerifier:
    async def test_matching_hashes_pass(self) -> None:
        """A go.mod and zip whose hashes the database lists are accepted."""
        v = SumdbVerifier(make_db(FakeDB(make_log())))
        await v.verify_mod("example.com/a", "v1.0.0", GOMOD)
        await v.verify_zip("example.com/a", "v1.0.0", ZIP_H1)

    async def test_mismatch_is_refused_with_both_hashes(self) -> None:
        """A different zip hash is a ChecksumMismatch naming both hashes, counted."""
        metrics = Counter()
        v = SumdbVerifier(make_db(FakeDB(make_log())), metrics=metrics)
        bad = "h1:" + "B" * 43 + "="
        with pytest.raises(ChecksumMismatch) as info:
            await v.verify_zip("example.com/a", "v1.0.0", bad)
        text = str(info.value)
        assert text.startswith("example.com/a@v1.0.0: verifying module: checksum mismatch\n")
        assert f"\tdownloaded: {bad}\n\t{NAME}: {ZIP_H1}" in text
        assert "SECURITY ERROR" in text
        assert error_response(info.value)[0] == 403
        with pytest.raises(ChecksumMismatch, match=r"verifying go\.mod: checksum mismatch"):
            await v.verify_mod("example.com/a", "v1.0.0", b"module example.com/a // evil\n")
        assert sum(metrics.counts.values()) == 2

    @pytest.mark.parametrize(
        ("gonosumdb", "path", "exempt"),
        [
            ("p,*/q", "p", True),
            ("p,*/q", "p/x", True),
            ("p,*/q", "x/q", True),
            ("p,*/q", "x/q/z", True),
            ("p,*/q", "abc", False),
            ("p,*/q", "a/p", False),
            ("p,*/q", "pq", False),
            ("p,*/q", "q", False),
            ("p,*/q", "n/o/p/q", False),
            ("*", "golang.org/toolchain", False),
            ("", "example.com/a", False),
        ],
    )
    def test_exemptions_follow_the_go_command(
        self, gonosumdb: str, path: str, exempt: bool
    ) -> None:
        """GONOSUMDB globs exempt paths as in cmd/go; golang.org/toolchain never is."""
        v = SumdbVerifier(make_db(FakeDB(make_log(1))), gonosumdb=gonosumdb)
        assert v.exempt(path) is exempt

    async def test_gosumdb_off_checks_nothing(self) -> None:
        """Without a database nothing is looked up."""
        v = SumdbVerifier(None)
        await v.verify_zip("example.com/a", "v1.0.0", "h1:whatever")

    async def test_unreachable_database_is_a_502_unless_best_effort(self) -> None:
        """A database that cannot be reached refuses the artifact (502), or lets it through
        with a warning when verify = "best-effort"."""
        fake = FakeDB(make_log(1))
        fake.down = True
        with pytest.raises(SumdbUnavailable) as info:
            await SumdbVerifier(make_db(fake)).verify_zip("example.com/a", "v1.0.0", ZIP_H1)
        assert error_response(info.value, 404)[0] == 502
        best = SumdbVerifier(make_db(fake), mode="best-effort")
        await best.verify_zip("example.com/a", "v1.0.0", "h1:anything")

    async def test_unknown_module_is_refused_with_a_hint(self) -> None:
        """A version the database does not know cannot be verified: refused, with a hint."""
        v = SumdbVerifier(make_db(FakeDB(make_log(1))))
        with pytest.raises(SumdbUnavailable, match="list it in GONOSUMDB or GOPRIVATE"):
            await v.verify_zip("example.com/private", "v1.0.0", ZIP_H1)


class TestDatabase:
    async def test_second_lookup_reads_no_tiles(self) -> None:
        """Verified lookups and tiles are cached; full tiles are stored."""
        fake = FakeDB(make_log())
        store = MemoryStore()
        db = make_db(fake, store)
        await db.lookup("example.com/a", "v1.0.0")
        assert await store.get(f"sumdb/{NAME}/tile/8/0/000") is not None
        assert await store.get(f"_meta/sumdb/{NAME}/latest") == make_log().signed_tree(SIGNER)
        fake.hits.clear()
        await make_db(fake, store).lookup("example.com/a", "v1.0.0/go.mod")
        assert fake.hits == []

    async def test_concurrent_lookups(self) -> None:
        """Many lookups at once on a cold database all verify (the timeline is shared)."""
        fake = FakeDB(make_log())
        db = make_db(fake)
        paths = [f"example.org/f{i}" for i in range(0, 300, 7)]
        results = await asyncio.gather(*(db.lookup(p, "v1.0.0") for p in paths))
        assert [r[0].split(" ")[0] for r in results] == paths

    async def test_go_mod_and_zip_share_one_record(self) -> None:
        """The go.mod and the zip of a version are checked against one remote lookup, and
        concurrent lookups read each tile from the network once."""
        fake = FakeDB(make_log())
        db = make_db(fake)
        paths = [f"example.org/f{i}" for i in range(0, 300, 7)]
        await asyncio.gather(*(db.lookup(p, v) for p in paths for v in ("v1.0.0/go.mod", "v1.0.0")))
        lookups = [h for h in fake.hits if h.startswith("/lookup/")]
        assert sorted(lookups) == sorted(f"/lookup/{p}@v1.0.0" for p in paths)
        tiles = [h for h in fake.hits if h.startswith("/tile/")]
        assert len(tiles) == len(set(tiles))
        v = SumdbVerifier(db)
        await v.verify_mod("example.com/a", "v1.0.0", GOMOD)
        await v.verify_zip("example.com/a", "v1.0.0", ZIP_H1)
        assert fake.hits.count("/lookup/example.com/a@v1.0.0") == 1

    async def test_prefetch_answers_the_later_lookup(self) -> None:
        """A prefetched lookup is what verification uses; a failed one is asked again, so the
        error names the caller's own artifact."""
        fake = FakeDB(make_log())
        v = SumdbVerifier(make_db(fake), gonosumdb="example.net")
        v.prefetch("example.com/a", "v1.0.0")
        v.prefetch("example.net/private", "v1.0.0")  # exempt: nothing asked
        await asyncio.sleep(0)
        fake.hits.clear()
        await v.verify_zip("example.com/a", "v1.0.0", ZIP_H1)
        await v.verify_mod("example.com/a", "v1.0.0", GOMOD)
        assert not [h for h in fake.hits if h.startswith("/lookup/")]
        fake.down = True
        v.prefetch("example.org/f1", "v1.0.0")
        with pytest.raises(SumdbUnavailable, match=r"go.mod: \S+f1@v1.0.0/go.mod: reading"):
            await v.verify_mod("example.org/f1", "v1.0.0", b"module example.org/f1\n")
        fake.down = False
        with pytest.raises(ChecksumMismatch):  # not a remembered failure
            await v.verify_zip("example.org/f1", "v1.0.0", ZIP_H1)

    async def test_remembered_records_respect_quarantine(self) -> None:
        """A record verified before a fork was found is not used once the database is
        quarantined (by another process: noticed within a second)."""
        store = MemoryStore()
        db = make_db(FakeDB(make_log()), store)
        await db.lookup("example.com/a", "v1.0.0")
        await store.put(db.fork_key, b"SECURITY ERROR\n")
        db._checked_fork -= 1.0  # a second later
        with pytest.raises(Quarantined):
            await db.lookup("example.com/a", "v1.0.0/go.mod")

    async def test_poisoned_cache_is_bypassed(self) -> None:
        """A bad cached tile does not wedge verification: the lookup retries the network."""
        fake = FakeDB(make_log())
        store = MemoryStore()
        await make_db(fake, store).lookup("example.com/a", "v1.0.0")
        key = f"sumdb/{NAME}/tile/8/0/000"
        tile = await store.get(key)
        assert tile is not None
        await store.put(key, bytes([tile[0] ^ 1]) + tile[1:])
        await make_db(fake, store).lookup("example.org/f3", "v1.0.0")

    async def test_fork_quarantines_the_database(self) -> None:
        """A tree inconsistent with the stored one is a fork: the report is stored, logged,
        and the database is not used again until the marker is removed."""
        store = MemoryStore()
        await make_db(FakeDB(make_log()), store).lookup("example.com/a", "v1.0.0")
        forked = make_db(FakeDB(make_log(301, tweak=5)), store)
        with pytest.raises(ForkDetected):
            await forked.lookup("example.org/f300", "v1.0.0")
        report = await store.get(forked.fork_key)
        assert report is not None
        assert report.startswith(b"SECURITY ERROR\n")
        with pytest.raises(Quarantined, match="quarantined"):
            await forked.lookup("example.com/a", "v1.0.0")
        v = SumdbVerifier(forked, mode="strict")
        with pytest.raises(SumdbUnavailable):
            await v.verify_zip("example.com/a", "v1.0.0", ZIP_H1)

    async def test_tampered_lookup_is_refused(self) -> None:
        """A lookup body whose record does not match the log is refused."""
        fake = FakeDB(make_log())

        def lying(request: httpx.Request) -> httpx.Response:
            resp = fake(request)
            if request.url.path.startswith("/lookup/"):
                return httpx.Response(200, content=resp.content.replace(b"ZZZ", b"ZZY", 1))
            return resp

        with pytest.raises(VerificationError, match="cannot authenticate record data"):
            await make_db(lying).lookup("example.com/a", "v1.0.0")


class TestRemote:
    @pytest.mark.parametrize(
        ("goproxy", "answers", "base"),
        [
            ("direct", {}, f"https://{NAME}"),
            ("off", {}, f"https://{NAME}"),
            ("http://p1,http://p2", {"p1": 404, "p2": 200}, f"http://p2/sumdb/{NAME}"),
            ("http://p1,direct", {"p1": 410}, f"https://{NAME}"),
            ("http://p1|http://p2", {"p1": 500, "p2": 200}, f"http://p2/sumdb/{NAME}"),
            ("http://p1,http://p2", {"p1": 500, "p2": 200}, None),
        ],
    )
    async def test_base_url_follows_goproxy(
        self, goproxy: str, answers: dict[str, int], base: str | None
    ) -> None:
        """The database is reached through the first proxy that says it is supported."""

        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == f"/sumdb/{NAME}/supported"
            return httpx.Response(answers[request.url.host])

        spec = parse_gosumdb(VKEY)
        assert spec is not None
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        remote = SumdbRemote(spec, goproxy, client=client)
        if base is None:
            with pytest.raises(UpstreamError, match="500"):
                await remote.base_url()
        else:
            assert await remote.base_url() == base

    async def test_explicit_url_bypasses_goproxy(self) -> None:
        """A URL after the key in GOSUMDB is used as is."""
        spec = parse_gosumdb(f"{VKEY} http://db.test/")
        assert spec is not None
        assert await SumdbRemote(spec, "http://p1").base_url() == "http://db.test"

    async def test_a_trickling_answer_times_out_and_frees_its_slot(self) -> None:
        """httpx bounds each read, not the answer: a database sending a byte now and then
        must still fail within the timeout, and nine such requests (one more than the slots)
        all end as timeouts instead of the ninth waiting for a slot without limit."""
        release = asyncio.Event()
        handlers: list[asyncio.Task[None] | None] = []

        async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handlers.append(asyncio.current_task())
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
            with contextlib.suppress(ConnectionError):
                for _ in range(100):  # a byte well inside httpx's read timeout, for 5 s
                    if release.is_set():
                        break
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.05)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

        server = await asyncio.start_server(trickle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        spec = parse_gosumdb(f"{VKEY} http://127.0.0.1:{port}")
        assert spec is not None
        remote = SumdbRemote(spec, timeout=0.5)
        try:
            results = await asyncio.gather(
                *(remote.fetch(f"lookup/example.com/m{i}@v1.0.0") for i in range(9)),
                return_exceptions=True,
            )
        finally:
            release.set()
            await remote.aclose()
            await asyncio.gather(*(h for h in handlers if h is not None))
            server.close()
            await server.wait_closed()
        assert all(isinstance(r, UpstreamTimeout) for r in results), results
        # The first eight took the slots; the ninth either got one as they timed out or
        # timed out waiting for one: bounded either way.
        assert all("no complete answer within 0.5 s" in str(r) for r in results[:8]), results
        assert re.search(r"no (complete answer|free connection) within 0\.5 s", str(results[8]))


class TestPassthrough:
    async def test_bytes_pass_verbatim_and_full_tiles_are_kept(self) -> None:
        """Passthrough forwards bytes unchanged; full tiles are served from storage forever,
        latest is refreshed after its TTL."""
        fake = FakeDB(make_log())
        db = make_db(fake)
        assert (await db.passthrough("supported")).status == 200
        tile = await db.passthrough("tile/8/0/001")
        assert await db.store.get(f"sumdb/{NAME}/tile/8/0/001") is None  # no verified tree yet
        await db.lookup("example.com/a", "v1.0.0")
        tile = await db.passthrough("tile/8/0/000")
        assert tile.body == make_log().tile(parse_tile_path("tile/8/0/000"))
        assert tile.content_type == "application/octet-stream"
        fake.hits.clear()
        assert (await db.passthrough("tile/8/0/000")).body == tile.body
        assert fake.hits == []
        latest = await db.passthrough("latest")
        assert latest.body == make_log().signed_tree(SIGNER)
        db.clock = lambda: 1e12
        await db.passthrough("latest")
        assert fake.hits == ["/latest", "/latest"]
        fake.down = True  # stale if error: the old latest rather than a failure
        assert (await db.passthrough("latest")).body == make_log().signed_tree(SIGNER)
        with pytest.raises(UpstreamError):
            await db.passthrough("lookup/example.com/never@v1.0.0")
        fake.down = False
        await db.store.delete(f"sumdb/{NAME}/tile/8/0/000")
        fake.log.hashes[3] = bytes(32)  # upstream now serves a bad tile/8/0/000
        bad = await db.passthrough("tile/8/0/000")
        assert bad.body != tile.body  # forwarded verbatim: the client will refuse it ...
        assert await db.store.get(f"sumdb/{NAME}/tile/8/0/000") is None  # ... we never keep it
        missing = await db.passthrough("lookup/example.com/nope@v1.0.0")
        assert missing.status == 404
        with pytest.raises(NotFound):
            await db.passthrough("other")
        for bad in ["lookup/../../x@v1.0.0", "lookup/example.com/a@latest", "lookup/A@v1.0.0"]:
            with pytest.raises(InvalidInput):
                await db.passthrough(bad)


class TestFromSettings:
    def test_settings_choose_databases(self) -> None:
        """GOSUMDB gives the verifying database; sumdb_proxied adds pass-through ones; off
        verifies nothing; bad values are configuration errors."""
        store = MemoryStore()

        def verifier(**checksum: str) -> SumdbVerifier:
            part = ChecksumDbSettings(**checksum)
            return from_settings(part, UpstreamSettings(), CacheSettings().list_ttl, store)

        v = verifier(gosumdb="off", sumdb_proxied=f"{VKEY} http://x ; sum.golang.org")
        assert v.db is None
        assert sorted(v.databases) == ["sum.golang.org", NAME]
        v = verifier(gosumdb=VKEY, gonosumdb="corp.example")
        assert v.db is not None
        assert v.exempt("corp.example/x")
        with pytest.raises(ConfigError, match="GOSUMDB"):
            verifier(gosumdb="bad+key")
        with pytest.raises(ConfigError, match="verify"):
            verifier(gosumdb="off", verify="maybe")
