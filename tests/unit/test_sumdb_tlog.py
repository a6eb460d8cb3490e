"""Transparent-log hashes, proofs, tree notes, records and tiles against the spec's vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.sumdb import tlog
from gomodproxy.sumdb.tile import (
    InconsistentTileError,
    Tile,
    TileHashPlan,
    hash_from_tile,
    new_tiles,
    parse_tile_path,
    read_tile_data,
    tile_for_index,
    tile_hash_reader,
)

V = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "sumdb_tlog.json").read_text())


def build(records: list[bytes]) -> list[bytes]:
    hashes: list[bytes] = []
    for i, r in enumerate(records):
        hashes.extend(tlog.stored_hashes(i, r, lambda ix: [hashes[j] for j in ix]))
    return hashes


def reader(hashes: list[bytes]) -> tlog.HashReader:
    return lambda ix: [hashes[j] for j in ix]


class TestHashes:
    def test_stored_hash_index(self) -> None:
        """Stored hash indexes follow the append order, and split back."""
        for level, n, want in V["stored_hash_index"]:
            assert tlog.stored_hash_index(level, n) == want
            assert tlog.split_stored_hash_index(want) == (level, n)

    def test_stored_hash_count(self) -> None:
        """A log of N records stores StoredHashCount(N) hashes."""
        for n, want in V["stored_hash_count"]:
            assert tlog.stored_hash_count(n) == want
            assert len(build([b"x\n"] * n)) == want

    def test_abc(self) -> None:
        """The three-record log from the spec: leaf hashes, stored index 2, root."""
        abc = V["abc"]
        hashes = build([r.encode() for r in abc["records"]])
        leaves = [hashes[tlog.stored_hash_index(0, i)] for i in range(3)]
        assert [tlog.hash_string(h)[:8] for h in leaves] == abc["leaf_prefixes"]
        assert tlog.hash_string(hashes[2]) == abc["stored_2"]
        assert tlog.hash_string(tlog.tree_hash(3, reader(hashes))) == abc["root"]
        assert tlog.hash_string(tlog.tree_hash(0, reader(hashes))) == V["empty_tree"]

    def test_abc_proofs(self) -> None:
        """Record 0's proof is [h1, h2]; tree 2 ⊂ 3 is proved by [h2]."""
        hashes = build([b"a\n", b"b\n", b"c\n"])
        leaf = [hashes[tlog.stored_hash_index(0, i)] for i in range(3)]
        read = reader(hashes)
        assert tlog.prove_record(3, 0, read) == [leaf[1], leaf[2]]
        assert tlog.prove_tree(3, 2, read) == [leaf[2]]

    def test_parse_hash(self) -> None:
        """Hashes print and parse as padded base64 of 32 bytes."""
        h = tlog.record_hash(b"x")
        assert tlog.parse_hash(tlog.hash_string(h)) == h
        with pytest.raises(InvalidInput, match="malformed hash"):
            tlog.parse_hash("AAAA")


class TestProofs:
    @pytest.mark.parametrize("size", [1, 2, 5, 13, 64, 100])
    def test_every_record_and_tree_proof_checks(self, size: int) -> None:
        """Every record proof and tree proof of a log verifies, and a tampered one fails."""
        records = [f"leaf {i}\n".encode() for i in range(size)]
        hashes = build(records)
        read = reader(hashes)
        for t in range(1, size + 1):
            th = tlog.tree_hash(t, read)
            for n in range(t):
                p = tlog.prove_record(t, n, read)
                tlog.check_record(p, t, th, n, tlog.record_hash(records[n]))
                if p:
                    bad = [*p[:-1], tlog.record_hash(b"evil")]
                    with pytest.raises(tlog.ProofError, match="invalid transparency proof"):
                        tlog.check_record(bad, t, th, n, tlog.record_hash(records[n]))
            for n in range(1, t + 1):
                p = tlog.prove_tree(t, n, read)
                tlog.check_tree(p, t, th, n, tlog.tree_hash(n, read))
                with pytest.raises(tlog.ProofError):
                    tlog.check_tree(p, t, th, n, tlog.record_hash(b"other"))

    def test_invalid_inputs(self) -> None:
        """Out-of-range proof requests are InvalidInput with Go's text."""
        read = reader(build([b"a\n"]))
        with pytest.raises(InvalidInput, match="invalid inputs in ProveRecord"):
            tlog.prove_record(1, 1, read)
        with pytest.raises(InvalidInput, match="invalid inputs in ProveTree"):
            tlog.prove_tree(1, 0, read)
        with pytest.raises(InvalidInput, match="invalid inputs in CheckRecord"):
            tlog.check_record([], 0, b"", 0, b"")
        with pytest.raises(InvalidInput, match="invalid inputs in CheckTree"):
            tlog.check_tree([], 1, b"", 2, b"")


class TestNotesAndRecords:
    def test_format_tree(self) -> None:
        """FormatTree/ParseTree round-trip the spec's golden text."""
        f = V["tree_format"]
        tree = tlog.Tree(f["n"], tlog.record_hash(f["record"].encode()))
        assert tlog.format_tree(tree).decode() == f["text"]
        assert tlog.parse_tree(f["text"].encode()) == tree

    @pytest.mark.parametrize("text", V["bad_trees"])
    def test_bad_trees(self, text: str) -> None:
        """Malformed tree notes are refused."""
        with pytest.raises(InvalidInput, match="malformed tree note"):
            tlog.parse_tree(text.encode())

    @pytest.mark.parametrize(("text", "n"), V["good_trees"])
    def test_good_trees(self, text: str, n: int) -> None:
        """Lines after the hash are ignored (forward compatibility)."""
        assert tlog.parse_tree(text.encode()).n == n

    @pytest.mark.parametrize("r", V["records"], ids=lambda r: r["msg_b64"])
    def test_parse_record(self, r: dict[str, object]) -> None:
        """Lookup bodies split into id, text and the rest, as ParseRecord does."""
        msg = base64.b64decode(str(r["msg_b64"]))
        if "error" in r:
            with pytest.raises(InvalidInput, match="malformed record data"):
                tlog.parse_record(msg)
        else:
            rid, text, rest = tlog.parse_record(msg)
            assert (rid, text.decode(), rest.decode()) == (r["id"], r["text"], r["rest"])

    def test_format_record(self) -> None:
        """FormatRecord writes id, text and a blank line, and refuses bad text."""
        assert tlog.format_record(5, b"a b\n") == b"5\na b\n\n"
        for bad in [b"", b"no newline", b"a\n\nb\n", b"tab\there\n", b"\xff\n"]:
            with pytest.raises(InvalidInput):
                tlog.format_record(1, bad)


class TestTiles:
    @pytest.mark.parametrize(("path", "want"), V["tile_paths"])
    def test_tile_paths(self, path: str, want: list[int] | None) -> None:
        """Tile paths parse to (H, L, N, W) and re-encode to themselves, or are refused."""
        if want is None:
            with pytest.raises(InvalidInput, match="malformed tile path"):
                parse_tile_path(path)
        else:
            t = parse_tile_path(path)
            assert [t.h, t.l, t.n, t.w] == want
            assert t.path() == path

    @pytest.mark.parametrize("case", V["new_tiles"], ids=str)
    def test_new_tiles(self, case: list[object]) -> None:
        """NewTiles lists the full and partial tiles a log publishes when it grows."""
        h, old, new, want = case
        tiles = new_tiles(int(h), int(old), int(new))  # type: ignore[call-overload]
        if isinstance(want, list):
            assert [t.path() for t in tiles] == want
        else:
            assert len(tiles) == want

    def test_record_tile(self) -> None:
        """Record 123456789's leaf hash lives in tile/8/0/x482/253."""
        r = V["record_tile"]
        index = tlog.stored_hash_index(0, r["record"])
        t = tile_for_index(r["height"], index)
        assert Tile(t.h, t.l, t.n, 256).path() == r["tile"]
        assert t.w - 1 == r["slot"]

    def test_hash_from_tile_and_authentication(self) -> None:
        """Hashes read through authenticated tiles equal the stored ones; a flipped byte in any
        tile is detected as an inconsistent tile."""
        records = [f"r{i}\n".encode() for i in range(1000)]
        hashes = build(records)
        read = reader(hashes)
        for n in (1, 255, 256, 257, 1000):
            tree = tlog.Tree(n, tlog.tree_hash(n, read))
            idx = [tlog.stored_hash_index(0, i) for i in (0, n // 2, n - 1)]
            got = tile_hash_reader(tree, 8, lambda ts: [read_tile_data(t, read) for t in ts])(idx)
            assert got == [hashes[i] for i in idx]
            plan = TileHashPlan(tree, 8, idx)
            good = [read_tile_data(t, read) for t in plan.tiles]
            for k in range(len(good)):
                bad = list(good)
                bad[k] = bytes([good[k][0] ^ 1]) + good[k][1:]
                with pytest.raises(InconsistentTileError, match="downloaded inconsistent tile"):
                    plan.authenticate(bad)
            with pytest.raises(InvalidInput, match="bad result slice"):
                plan.authenticate([g[:-1] for g in good])
        with pytest.raises(InvalidInput, match="indexes not in tree"):
            TileHashPlan(tlog.Tree(1, hashes[0]), 8, [5])
        t = tile_for_index(8, 0)
        with pytest.raises(InvalidInput, match="too short"):
            hash_from_tile(t, b"", 0)


class TestTileErrors:
    def test_invalid_heights_and_tiles(self) -> None:
        """Heights below 1 and tiles that do not hold an index are refused."""
        with pytest.raises(InvalidInput, match="invalid height 0"):
            tile_for_index(0, 5)
        with pytest.raises(InvalidInput, match="invalid height 0"):
            new_tiles(0, 1, 2)
        with pytest.raises(InvalidInput, match="invalid tile"):
            hash_from_tile(Tile(8, -1, 0, 1), bytes(32), 0)
        with pytest.raises(InvalidInput, match=r"is in tile/8/0/000\.p/6 not tile/8/0/000\.p/1"):
            hash_from_tile(Tile(8, 0, 0, 1), bytes(32 * 6), tlog.stored_hash_index(0, 5))
        with pytest.raises(InvalidInput, match="ReadHashes"):
            read_tile_data(Tile(2, 0, 0, 4), lambda ix: [])
