"""Which tiles a go command needs to verify a set of lookups with no network but our proxy.

Theory of operation
-------------------
The go command's checksum-database client (x/mod/sumdb Client.Lookup) reads a lookup
response, merges the signed tree in it into its timeline, then authenticates the record
against its *latest* tree. Merging tree A into a timeline at tree B reads the hashes of the
smaller tree from the tiles of the larger one (``checkTrees``); authenticating record R reads
the tile holding R's hash and its parents up to the top of the latest tree (``TileHashReader``).
The go command looks modules up concurrently, so which tree is "latest" when a record is
checked depends on timing. Every tree it can hold is one of the trees of the lookups it
reads (its own cache starts empty in an air gap), so planning, for every such tree T, the
reads of every record below T and the hashes of every smaller tree covers every order.

Tiles of one tree are prefixes of the same tiles in a larger tree, so for each tile
coordinate only the widest needed tile is kept; a server answers a narrower request with a
prefix of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gomodproxy.sumdb.tile import Tile, TileHashPlan
from gomodproxy.sumdb.tlog import Tree, stored_hash_index, sub_tree_index

__all__ = ["Read", "plan_reads", "widest_tiles"]


@dataclass(frozen=True)
class Read:
    """Hashes at ``indexes`` read from the tiles of ``tree``."""

    tree: Tree
    indexes: tuple[int, ...]


def plan_reads(records: Iterable[tuple[int, Tree]]) -> list[Read]:
    """Every tile read a client may make for ``records`` (record id, tree of its lookup)."""
    pairs = list(records)
    trees = sorted({tree for _, tree in pairs}, key=lambda t: (t.n, t.hash))
    ids = sorted({rid for rid, _ in pairs})
    reads = []
    for i, tree in enumerate(trees):
        below = tuple(stored_hash_index(0, rid) for rid in ids if rid < tree.n)
        if below:
            reads.append(Read(tree, below))
        for older in trees[:i]:
            if 0 < older.n < tree.n:
                reads.append(Read(tree, tuple(sub_tree_index(0, older.n))))
    return reads


def widest_tiles(reads: Iterable[Read], height: int = 8) -> list[Tile]:
    """The tiles of ``reads`` (their plans), the widest per coordinate, in path order."""
    widest: dict[tuple[int, int], Tile] = {}
    for read in reads:
        for t in TileHashPlan(read.tree, height, read.indexes).tiles:
            have = widest.get((t.l, t.n))
            if have is None or have.w < t.w:
                widest[(t.l, t.n)] = t
    return [widest[k] for k in sorted(widest)]
