"""The checksum-database core against golang.org/x/mod/sumdb (the Go oracle): the vector tables
in tests/vectors/sumdb_*.json, then generated logs, proofs, tiles and tampered inputs."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import GoModProxyError
from gomodproxy.sumdb import note, tlog
from gomodproxy.sumdb.tile import (
    Tile,
    TileHashPlan,
    new_tiles,
    parse_tile_path,
    read_tile_data,
    tile_for_index,
)
from tests.differential.oracle import SCALE, ask

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
NOTE = json.loads((VECTORS / "sumdb_note.json").read_text())
TLOG = json.loads((VECTORS / "sumdb_tlog.json").read_text())


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def outcome(fn: Any, *args: Any) -> tuple[Any, str | None]:
    try:
        return fn(*args), None
    except GoModProxyError as exc:
        return None, str(exc)


class TestNoteVectorsAgainstGo:
    def test_verifier_keys(self) -> None:
        """Every verifier-key vector parses (or fails with the same text) in Go."""
        answers = ask("note.verifier", [{"Key": v["key"]} for v in NOTE["verifiers"]])
        for v, a in zip(NOTE["verifiers"], answers, strict=True):
            if "error" in v:
                assert a.error == v["error"], v["key"]
            else:
                assert a.error is None, v["key"]
                assert (a.result["name"], a.result["hash"]) == (v["name"], int(v["hash"], 16))

    def test_signer_keys(self) -> None:
        """Every signer-key vector behaves the same in Go."""
        answers = ask("note.signer", [{"Key": v["key"]} for v in NOTE["signers"]])
        for v, a in zip(NOTE["signers"], answers, strict=True):
            assert a.error == v.get("error"), v["key"]

    def test_notes(self) -> None:
        """Every note vector opens (or fails with the same text) in Go."""
        answers = ask(
            "note.open", [{"MsgB64": n["msg_b64"], "Keys": n["keys"]} for n in NOTE["notes"]]
        )
        for n, a in zip(NOTE["notes"], answers, strict=True):
            assert a.error == n.get("error"), n["id"]
            if "error" not in n:
                assert a.result["text"] == n["text"]
                assert [s["name"] for s in a.result["sigs"]] == n["sigs"]
                assert [s["name"] for s in a.result["unverified"]] == n["unverified"]

    def test_sign(self) -> None:
        """Signing gives Go's bytes, existing signatures first."""
        answers = ask(
            "note.sign",
            [
                {
                    "Text": s["text"],
                    "Signers": s["signers"],
                    "Sigs": [
                        {"name": e["name"], "hash": int(e["hash"], 16), "base64": e["base64"]}
                        for e in s["existing"]
                    ],
                }
                for s in NOTE["sign"]
            ],
        )
        for s, a in zip(NOTE["sign"], answers, strict=True):
            assert a.error == s.get("error")
            if "out" in s:
                assert base64.b64decode(a.result).decode() == s["out"]


class TestNoteGenerated:
    def test_generated_keys_match(self) -> None:
        """Keys generated from the same seed are identical in Go and Python."""
        rng = random.Random(6)
        names = ["a", "sum.example.com", "corp.example/sumdb", "x+y", "", "bad name", "é"]
        cases = [(rng.choice(names), rng.randbytes(32)) for _ in range(20 * SCALE)]
        answers = ask("note.generate", [{"Name": n, "SeedB64": b64(s)} for n, s in cases])
        for (name, seed), a in zip(cases, answers, strict=True):
            ours, err = outcome(note.generate_key, name, seed)
            if a.error is None and err is None:
                assert ours == (a.result["skey"], a.result["vkey"])
            # Go generates keys even for names that Sign later rejects; we refuse up front.

    def test_mangled_notes(self) -> None:
        """Every single-byte change of a signed note gives the same outcome in Go and Python."""
        msg = base64.b64decode(NOTE["notes"][1]["msg_b64"])
        keys = NOTE["notes"][1]["keys"]
        rng = random.Random(7)
        cases = []
        for _ in range(60 * SCALE):
            b = bytearray(msg)
            i = rng.randrange(len(b))
            b[i] = rng.choice([b[i] ^ 1, 0x0A, 0x20, 0x2B, 0xFF, 0x00])
            cases.append(bytes(b))
        answers = ask("note.open", [{"MsgB64": b64(c), "Keys": keys} for c in cases])
        verifiers = note.Verifiers(note.new_verifier(k) for k in keys)
        for c, a in zip(cases, answers, strict=True):
            ours, err = outcome(note.open_note, c, verifiers)
            assert err == a.error, c
            if ours is not None:
                assert ours.text == a.result["text"]


class TestTlogAgainstGo:
    def test_trees(self) -> None:
        """Tree-note vectors parse the same in Go."""
        texts = list(TLOG["bad_trees"]) + [t for t, _ in TLOG["good_trees"]]
        texts.append(TLOG["tree_format"]["text"])
        answers = ask("tlog.parse_tree", [{"TextB64": b64(t.encode())} for t in texts])
        for t, a in zip(texts, answers, strict=True):
            ours, err = outcome(tlog.parse_tree, t.encode())
            assert err == a.error, t
            if ours is not None:
                assert (ours.n, tlog.hash_string(ours.hash)) == (a.result["n"], a.result["hash"])

    def test_records(self) -> None:
        """Record vectors parse the same in Go."""
        recs = TLOG["records"]
        answers = ask("tlog.parse_record", [{"MsgB64": r["msg_b64"]} for r in recs])
        for r, a in zip(recs, answers, strict=True):
            assert a.error == r.get("error"), r
            if a.error is None:
                assert a.result["id"] == r["id"]
                assert base64.b64decode(a.result["text"]).decode() == r["text"]

    def test_tile_paths(self) -> None:
        """Tile-path vectors and generated paths parse the same in Go."""
        rng = random.Random(8)
        paths = [p for p, _ in TLOG["tile_paths"]]
        for _ in range(200 * SCALE):
            t = Tile(
                rng.randint(1, 30), rng.randint(-1, 9), rng.randrange(10 ** rng.randint(1, 12)), 1
            )
            t = Tile(t.h, t.l, t.n, rng.randint(1, 1 << min(t.h, 12)))
            p = t.path()
            if rng.random() < 0.3:
                i = rng.randrange(len(p))
                p = p[:i] + rng.choice("x/.p0129-+a") + p[i + 1 :]
            paths.append(p)
        answers = ask("tlog.tile_path", [{"Path": p} for p in paths])
        for p, a in zip(paths, answers, strict=True):
            ours, err = outcome(parse_tile_path, p)
            assert err == a.error, p
            if ours is not None:
                assert [ours.h, ours.l, ours.n, ours.w] == [a.result[k] for k in "hlnw"]

    def test_new_tiles(self) -> None:
        """NewTiles lists the same tiles in Go."""
        rng = random.Random(9)
        cases = [(h, o, n) for h, o, n, _ in TLOG["new_tiles"]]
        for _ in range(50 * SCALE):
            o = rng.randrange(1 << rng.randint(1, 30))
            cases.append((rng.randint(1, 10), o, o + rng.randrange(1 << rng.randint(1, 20))))
        answers = ask("tlog.new_tiles", [{"H": h, "Old": o, "New": n} for h, o, n in cases])
        for (h, o, n), a in zip(cases, answers, strict=True):
            assert [t.path() for t in new_tiles(h, o, n)] == a.result

    def test_split_index(self) -> None:
        """Stored-hash indexes split, count and map to tiles as in Go."""
        rng = random.Random(10)
        idx = list(range(300)) + [rng.randrange(1 << 40) for _ in range(100 * SCALE)]
        answers = ask("tlog.split_index", [{"Index": i} for i in idx])
        for i, a in zip(idx, answers, strict=True):
            assert tlog.split_stored_hash_index(i) == (a.result["level"], a.result["n"])
            assert tlog.stored_hash_count(i) == a.result["count"]
            assert tile_for_index(8, i).path() == a.result["tile"]

    @pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 31, 64, 100, 257])
    def test_log_hashes_and_proofs(self, size: int) -> None:
        """Stored hashes, tree hashes, proofs and tile data equal Go's for a log of records."""
        rng = random.Random(size)
        records = [f"leaf {i}\n" for i in range(size)]
        rp = [(t, rng.randrange(t)) for t in rng.sample(range(1, size + 1), min(size, 8))]
        tp = [(t, rng.randint(1, t)) for t in rng.sample(range(1, size + 1), min(size, 8))]
        tiles = [t.path() for t in new_tiles(2, 0, size)][:20]
        (a,) = ask(
            "tlog.log",
            [{"Records": records, "RecordProofs": rp, "TreeProofs": tp, "Tiles": tiles}],
        )
        hashes: list[bytes] = []
        for i, r in enumerate(records):
            hashes.extend(tlog.stored_hashes(i, r.encode(), lambda ix: [hashes[j] for j in ix]))
        assert [tlog.hash_string(h) for h in hashes] == a.result["hashes"]

        def read(ix: Any) -> list[bytes]:
            return [hashes[j] for j in ix]

        trees = [tlog.hash_string(tlog.tree_hash(n, read)) for n in range(size + 1)]
        assert trees == a.result["trees"]
        for (t, n), proof in zip(rp, a.result["record_proofs"] or [], strict=True):
            assert [tlog.hash_string(h) for h in tlog.prove_record(t, n, read)] == proof
        for (t, n), proof in zip(tp, a.result["tree_proofs"] or [], strict=True):
            assert [tlog.hash_string(h) for h in tlog.prove_tree(t, n, read)] == proof
        for p, data in zip(tiles, a.result["tiles"] or [], strict=True):
            assert b64(read_tile_data(parse_tile_path(p), read)) == data

    def test_tampered_proofs(self) -> None:
        """Proof checks accept and reject exactly what Go's do, for honest and tampered proofs."""
        size = 40
        records = [f"r{i}\n".encode() for i in range(size)]
        hashes: list[bytes] = []
        for i, r in enumerate(records):
            hashes.extend(tlog.stored_hashes(i, r, lambda ix: [hashes[j] for j in ix]))

        def read(ix: Any) -> list[bytes]:
            return [hashes[j] for j in ix]

        rng = random.Random(11)
        rec_cases, tree_cases = [], []
        for _ in range(40 * SCALE):
            t = rng.randint(1, size)
            n = rng.randrange(t)
            p = tlog.prove_record(t, n, read)
            th, h = tlog.tree_hash(t, read), tlog.record_hash(records[n])
            mode = rng.randrange(4)
            if mode == 1 and p:
                p[rng.randrange(len(p))] = tlog.record_hash(b"x")
            elif mode == 2:
                p = [*p, th]
            elif mode == 3:
                n = (n + 1) % t
            rec_cases.append((p, t, th, n, h))
            m = rng.randint(1, t)
            q = tlog.prove_tree(t, m, read)
            oh = tlog.tree_hash(m, read)
            if mode == 1 and q:
                q[rng.randrange(len(q))] = tlog.record_hash(b"y")
            elif mode == 2:
                q = q[:-1]
            elif mode == 3:
                oh = tlog.record_hash(b"z")
            tree_cases.append((q, t, th, m, oh))

        def args(c: Any) -> dict[str, Any]:
            p, t, th, n, h = c
            return {
                "Proof": [tlog.hash_string(x) for x in p],
                "T": t,
                "TH": tlog.hash_string(th),
                "N": n,
                "H": tlog.hash_string(h),
            }

        for op, fn, cases in [
            ("tlog.check_record", tlog.check_record, rec_cases),
            ("tlog.check_tree", tlog.check_tree, tree_cases),
        ]:
            answers = ask(op, [args(c) for c in cases])
            for c, a in zip(cases, answers, strict=True):
                assert outcome(fn, *c)[1] == a.error, (op, c[1], c[3])

    @pytest.mark.parametrize("height", [1, 2, 3, 8])
    def test_tile_authentication(self, height: int) -> None:
        """Reading hashes through authenticated tiles agrees with Go, and any flipped byte in any
        tile that is read is refused by both."""
        size = 300
        records = [f"m{i}\n" for i in range(size)]
        hashes: list[bytes] = []
        for i, r in enumerate(records):
            hashes.extend(tlog.stored_hashes(i, r.encode(), lambda ix: [hashes[j] for j in ix]))

        def read(ix: Any) -> list[bytes]:
            return [hashes[j] for j in ix]

        rng = random.Random(height)
        cases = []
        for _ in range(15 * SCALE):
            n = rng.randint(1, size)
            idx = [tlog.stored_hash_index(0, rng.randrange(n)) for _ in range(rng.randint(0, 3))]
            plan = TileHashPlan(tlog.Tree(n, tlog.tree_hash(n, read)), height, idx)
            flip, at = "", 0
            if rng.random() < 0.6:
                t = rng.choice(plan.tiles)
                flip, at = t.path(), rng.randrange(t.w * 32)
            cases.append((n, idx, flip, at))
        answers = ask(
            "tlog.tile_read",
            [
                {
                    "Records": records,
                    "Height": height,
                    "TreeN": n,
                    "Indexes": idx,
                    "Flip": flip,
                    "At": at,
                }
                for n, idx, flip, at in cases
            ],
        )
        for (n, idx, flip, at), a in zip(cases, answers, strict=True):
            plan = TileHashPlan(tlog.Tree(n, tlog.tree_hash(n, read)), height, idx)
            data = []
            for t in plan.tiles:
                d = bytearray(read_tile_data(t, read))
                if t.path() == flip:
                    d[at] ^= 1
                data.append(bytes(d))
            ours, err = outcome(plan.authenticate, data)
            assert err == a.error, (n, idx, flip)
            if ours is not None:
                assert [tlog.hash_string(h) for h in ours] == a.result
