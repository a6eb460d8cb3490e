"""The offline tile plan (gomodproxy.sumdb.closure): a client that starts with an empty
cache verifies every lookup, in any order, reading only the planned tiles."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gomodproxy.sumdb import client as sc
from gomodproxy.sumdb import note
from gomodproxy.sumdb.closure import plan_reads, widest_tiles
from gomodproxy.sumdb.server import Log, gosum_record
from gomodproxy.sumdb.tile import Tile
from gomodproxy.sumdb.tlog import Tree, parse_record, parse_tree
from tests.unit.test_sumdb_client import drive

SKEY, VKEY = note.generate_key("sum.test.example", bytes(range(32)))
SIGNER = note.new_signer(SKEY)
H1 = "h1:" + "B" * 43 + "="
HEIGHT = 2  # small tiles: several levels and partial tiles with few records


def _lookups(sizes: list[int], wanted: list[int]) -> tuple[Log, dict[str, bytes]]:
    """A log grown in steps; record ``wanted[i]`` is looked up when the log has ``sizes[i]``
    records, so every lookup carries a different tree."""
    log = Log(HEIGHT)
    bodies: dict[str, bytes] = {}
    for size, rid in sorted(zip(sizes, wanted, strict=True)):
        while log.size < size:
            log.append(gosum_record(f"example.com/m{log.size}", "v1.0.0", H1, H1))
        bodies[f"example.com/m{rid}"] = log.lookup_body(rid, log.signed_tree(SIGNER))
    return log, bodies


def _verify_all(
    order: list[str], bodies: dict[str, bytes], tiles: dict[tuple[int, int], bytes]
) -> None:
    """Run fresh-client lookups in ``order``, tiles answered only from ``tiles``."""
    client = sc.Client(VKEY, tile_height=HEIGHT)
    config: dict[str, bytes] = {}
    missing: list[Tile] = []

    def answer(req: sc.Request) -> Any:
        if isinstance(req, sc.ReadRemote):
            return bodies[req.path.removeprefix("/lookup/").split("@")[0]]
        if isinstance(req, sc.ReadCache | sc.WriteCache | sc.SaveTiles):
            return None
        if isinstance(req, sc.ReadConfig):
            return config.get(req.key, b"")
        if isinstance(req, sc.WriteConfig):
            config[req.key] = req.new
            return True
        assert isinstance(req, sc.ReadTiles)
        out = []
        for t in req.tiles:
            data = tiles.get((t.l, t.n), b"")
            if len(data) < t.w * 32:
                missing.append(t)
            out.append(data[: t.w * 32])
        return out

    for path in order:
        assert drive(client.lookup(path, "v1.0.0"), answer) == [f"{path} v1.0.0 {H1}"]
    assert missing == []


def _records(bodies: dict[str, bytes]) -> list[tuple[int, Tree]]:
    out = []
    for body in bodies.values():
        rid, _, msg = parse_record(body)
        out.append((rid, parse_tree(note.open_note(msg, sc.Client(VKEY).verifiers).text.encode())))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_every_order_verifies_from_the_planned_tiles(seed: int) -> None:
    """Lookups taken at different tree sizes verify in random orders from the plan alone."""
    rng = random.Random(seed)
    sizes = sorted(rng.sample(range(1, 70), 7))
    wanted = [rng.randrange(size) for size in sizes]
    log, bodies = _lookups(sizes, wanted)
    plan = widest_tiles(plan_reads(_records(bodies)), HEIGHT)
    tiles = {(t.l, t.n): log.tile(t) for t in plan}
    for _ in range(4):
        order = list(bodies)
        rng.shuffle(order)
        _verify_all(order, bodies, tiles)


def test_the_plan_keeps_one_widest_tile_per_place() -> None:
    """Each (level, index) appears once, with the largest width any read needs."""
    _, bodies = _lookups([5, 6, 7], [0, 1, 2])
    tiles = widest_tiles(plan_reads(_records(bodies)), HEIGHT)
    places = [(t.l, t.n) for t in tiles]
    assert len(places) == len(set(places))
    assert Tile(HEIGHT, 0, 1, 3) in tiles  # tree 7: records 4..6 in a partial tile of width 3
