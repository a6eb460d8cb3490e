"""The sans-IO client flow (gomodproxy.sumdb.client) driven over an in-memory private log
(gomodproxy.sumdb.server): lookups, tampering, forks, the persisted timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gomodproxy.errors import InvalidInput, NotFound, VerificationError
from gomodproxy.sumdb import client as sc
from gomodproxy.sumdb import note
from gomodproxy.sumdb.server import LOOKUP_RE, Log, gosum_record
from gomodproxy.sumdb.tile import Tile, full_tile, parse_tile_path

SKEY, VKEY = note.generate_key("sum.test.example", bytes(range(32)))
SIGNER = note.new_signer(SKEY)
H1 = "h1:" + "A" * 43 + "="


def make_log(n: int, height: int = 2) -> Log:
    log = Log(height)
    for i in range(n):
        log.append(gosum_record(f"example.com/m{i}", "v1.0.0", H1, H1))
    return log


class Driver:
    """Answers a flow's requests from a Log (the remote), dicts (cache and config)."""

    def __init__(
        self,
        log: Log,
        config: dict[str, bytes] | None = None,
        cache: dict[str, bytes] | None = None,
    ) -> None:
        self.log = log
        self.cache = cache if cache is not None else {}
        self.config = config if config is not None else {}
        self.remote_reads: list[str] = []
        self.tamper_tile: Tile | None = None

    def remote(self, path: str) -> bytes:
        self.remote_reads.append(path)
        if path.startswith("/lookup/"):
            target = path.removeprefix("/lookup/")
            assert LOOKUP_RE.match(target)
            mod, _, ver = target.partition("@")
            rid = self.log.find(mod, ver)
            return self.log.lookup_body(rid, self.log.signed_tree(SIGNER))
        t = parse_tile_path(path.removeprefix("/"))
        data = self.log.tile(t)
        if t == self.tamper_tile:
            data = bytes([data[0] ^ 1]) + data[1:]
        return data

    def answer(self, req: sc.Request) -> Any:
        if isinstance(req, sc.ReadRemote):
            return self.remote(req.path)
        if isinstance(req, sc.ReadCache):
            return self.cache.get(req.key)
        if isinstance(req, sc.WriteCache):
            self.cache[req.key] = req.data
            return None
        if isinstance(req, sc.ReadConfig):
            return self.config.get(req.key, b"")
        if isinstance(req, sc.WriteConfig):
            if self.config.get(req.key, b"") != req.old:
                return False
            self.config[req.key] = req.new
            return True
        if isinstance(req, sc.ReadTiles):
            out = []
            for t in req.tiles:
                if f"tile:{t.path()}" in self.cache:
                    out.append(self.cache[f"tile:{t.path()}"])
                    continue
                try:
                    out.append(self.remote("/" + t.path()))
                except NotFound:
                    full = self.remote("/" + full_tile(t).path())
                    out.append(full[: t.w * 32])
            return out
        if isinstance(req, sc.SaveTiles):
            for t, d in zip(req.tiles, req.data, strict=True):
                self.cache[f"tile:{t.path()}"] = d
            return None
        raise AssertionError(req)

    def run(self, flow: sc.Flow[Any]) -> Any:
        return drive(flow, self.answer)


def drive(flow: sc.Flow[Any], answer: Callable[[sc.Request], Any]) -> Any:
    """Run a sans-IO flow to its end, answering each request with ``answer``."""
    resp: Any = None
    while True:
        try:
            req = flow.send(resp)
        except StopIteration as stop:
            return stop.value
        resp = answer(req)


class TestLookup:
    def test_lookup_returns_the_lines_of_the_version(self) -> None:
        """A lookup of M@V returns its go.sum lines, and M@V/go.mod only the go.mod line."""
        log = make_log(10)
        d = Driver(log)
        c = sc.Client(VKEY, tile_height=2)
        lines = d.run(c.lookup("example.com/m3", "v1.0.0"))
        assert lines == [f"example.com/m3 v1.0.0 {H1}"]
        lines = d.run(c.lookup("example.com/m3", "v1.0.0/go.mod"))
        assert lines == [f"example.com/m3 v1.0.0/go.mod {H1}"]
        assert c.latest.n == 10
        assert d.config[f"{c.name}/latest"] == log.signed_tree(SIGNER)

    def test_lookup_is_cached_after_verification(self) -> None:
        """A second lookup of the same version reads the cache, not the remote."""
        d = Driver(make_log(5))
        c = sc.Client(VKEY, tile_height=2)
        d.run(c.lookup("example.com/m1", "v1.0.0"))
        reads = len([p for p in d.remote_reads if p.startswith("/lookup/")])
        d.run(sc.Client(VKEY, tile_height=2).lookup("example.com/m1", "v1.0.0"))
        assert len([p for p in d.remote_reads if p.startswith("/lookup/")]) == reads

    def test_log_grows_between_lookups(self) -> None:
        """The timeline advances when the log grows and the old tree is a prefix."""
        log = make_log(3)
        d = Driver(log)
        c = sc.Client(VKEY, tile_height=2)
        d.run(c.lookup("example.com/m0", "v1.0.0"))
        for i in range(3, 40):
            log.append(gosum_record(f"example.com/m{i}", "v1.0.0", H1, H1))
        d.run(c.lookup("example.com/m39", "v1.0.0"))
        assert c.latest.n == 40

    def test_tampered_record_is_refused(self) -> None:
        """A lookup whose record text differs from the logged leaf cannot be authenticated."""
        log = make_log(6)
        d = Driver(log)
        c = sc.Client(VKEY, tile_height=2)
        real = d.remote

        def lying(path: str) -> bytes:
            body = real(path)
            return body.replace(b"AAAA", b"BBBB", 1) if path.startswith("/lookup/") else body

        d.remote = lying  # type: ignore[method-assign]
        with pytest.raises(VerificationError, match="cannot authenticate record data"):
            d.run(c.lookup("example.com/m2", "v1.0.0"))
        assert not d.cache.get(f"{c.name}/lookup/example.com/m2@v1.0.0")

    def test_tampered_tile_is_refused(self) -> None:
        """A tile that does not hash to the signed tree is refused and not cached."""
        d = Driver(make_log(6))
        d.tamper_tile = Tile(2, 0, 0, 4)
        c = sc.Client(VKEY, tile_height=2)
        with pytest.raises(VerificationError, match="downloaded inconsistent tile"):
            d.run(c.lookup("example.com/m2", "v1.0.0"))
        assert not [k for k in d.cache if k.startswith("tile:")]

    def test_wrong_key_is_refused(self) -> None:
        """A tree note signed by another key has no verifiable signature."""
        _, other = note.generate_key("sum.test.example", bytes(32))
        d = Driver(make_log(3))
        with pytest.raises(VerificationError, match="reading tree note: note has no verifiable"):
            d.run(sc.Client(other, tile_height=2).lookup("example.com/m1", "v1.0.0"))

    def test_errors_name_the_module_version(self) -> None:
        """Errors are prefixed with path@version, like the x/mod client's."""
        d = Driver(make_log(2))
        with pytest.raises(InvalidInput, match=r"^bad!path@v1\.0\.0: "):
            d.run(sc.Client(VKEY, tile_height=2).lookup("bad!path", "v1.0.0"))

    def test_memoized_error_thrown_twice_keeps_its_text(self) -> None:
        """A driver that memoizes a tile error (as x/mod's per-client tile cache does) throws
        the same object into two lookups: each error names only its own lookup, and the
        memoized error keeps its text and attributes (regression: prefixes accumulated)."""
        d = Driver(make_log(6))
        c = sc.Client(VKEY, tile_height=2)
        memo = NotFound("404 not found: /tile/2/0/001.p/2", gone=True)

        def run_throwing_tiles(flow: sc.Flow[Any]) -> Any:
            resp: Any = None
            req = flow.send(None)
            while True:
                if isinstance(req, sc.ReadTiles):
                    req = flow.throw(memo)
                    continue
                resp = d.answer(req)
                try:
                    req = flow.send(resp)
                except StopIteration as stop:
                    return stop.value

        got = []
        for mod in ("example.com/m1", "example.com/m5"):
            with pytest.raises(NotFound) as info:
                run_throwing_tiles(c.lookup(mod, "v1.0.0"))
            assert info.value.gone
            assert info.value.__cause__ is memo
            got.append(str(info.value))
        assert got == [
            "example.com/m1@v1.0.0: 404 not found: /tile/2/0/001.p/2",
            "example.com/m5@v1.0.0: 404 not found: /tile/2/0/001.p/2",
        ]
        assert str(memo) == "404 not found: /tile/2/0/001.p/2"

    def test_record_beyond_tree(self) -> None:
        """A record id not inside the signed tree cannot be validated."""
        log = make_log(3)
        d = Driver(log)
        c = sc.Client(VKEY, tile_height=2)
        real = d.remote

        def renumbered(p: str) -> bytes:
            return b"7" + real(p)[1:] if p.startswith("/lookup/") else real(p)

        d.remote = renumbered  # type: ignore[method-assign,assignment]
        with pytest.raises(VerificationError, match="cannot validate record 7 in tree of size 3"):
            d.run(c.lookup("example.com/m0", "v1.0.0"))


class TestFork:
    def test_fork_is_detected_against_the_persisted_tree(self) -> None:
        """A log that rewrites history is caught: the persisted tree is not a prefix of the new
        one. The report has the go command's SECURITY ERROR shape."""
        config: dict[str, bytes] = {}
        honest = make_log(8)
        Driver(honest, config).run(
            sc.Client(VKEY, tile_height=2).lookup("example.com/m1", "v1.0.0")
        )
        forked = Log(2)
        for i in range(12):
            forked.append(gosum_record(f"example.com/m{i}", "v1.0.0", H1 if i != 4 else "h1:x", H1))
        d = Driver(forked, config)
        with pytest.raises(sc.ForkDetected, match="security error: misbehaving server") as info:
            d.run(sc.Client(VKEY, tile_height=2).lookup("example.com/m9", "v1.0.0"))
        report = info.value.report
        assert report.startswith("SECURITY ERROR\ngo.sum database server misbehavior detected!\n\n")
        assert "old database:\n\tgo.sum database tree\n\t8\n" in report
        assert "new database:\n\tgo.sum database tree\n\t12\n" in report
        assert "proof of misbehavior:\n\t" in report
        assert "internal error" not in report
        assert config[f"{sc.Client(VKEY).name}/latest"] == honest.signed_tree(SIGNER)

    def test_older_tree_must_be_a_prefix(self) -> None:
        """A smaller tree from a forked log is also refused."""
        config: dict[str, bytes] = {}
        cache: dict[str, bytes] = {}
        honest = Driver(make_log(9), config, cache)
        c = sc.Client(VKEY, tile_height=2)
        honest.run(c.lookup("example.com/m8", "v1.0.0"))
        honest.run(c.lookup("example.com/m4", "v1.0.0"))
        forked = Log(2)
        for i in range(5):
            forked.append(gosum_record(f"example.com/x{i}", "v1.0.0", H1, H1))
        with pytest.raises(sc.ForkDetected):
            Driver(forked, config, cache).run(
                sc.Client(VKEY, tile_height=2).lookup("example.com/x1", "v1.0.0")
            )

    def test_write_conflict_re_merges(self) -> None:
        """When the persisted tree changed under us, the client re-reads and merges it."""
        log = make_log(4)
        d = Driver(log)
        c = sc.Client(VKEY, tile_height=2)
        d.run(c.init())
        newer = make_log(6)
        d.config[c.config_key] = newer.signed_tree(SIGNER)
        d.log = newer
        d.run(c.lookup("example.com/m5", "v1.0.0"))
        assert d.config[c.config_key] == newer.signed_tree(SIGNER)
