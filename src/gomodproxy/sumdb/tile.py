"""Tiles of a transparent log and their authentication, as in golang.org/x/mod/sumdb/tlog
(tile.go).

Theory of operation
-------------------
A tile (H, L, N, W) holds W consecutive stored hashes from tree level H·L, starting at hash
number N·2^H of that level; a full tile has W = 2^H (the checksum database uses H = 8) and
its hashes fold up to one hash at level H·(L+1), which is an entry of its parent tile. L = -1
names a data tile (record texts). Paths are ``tile/H/L/NNN[.p/W]`` with N in groups of three
digits, all but the last prefixed ``x``.

Go's ``TileHashReader`` reads tiles and authenticates them against a signed tree in one call.
Here it is split so that no I/O happens inside: ``TileHashPlan(tree, height, indexes)`` says
which tiles are needed (``plan.tiles``); the caller fetches their bytes however it likes;
``plan.authenticate(data)`` checks them against the tree (the tiles covering the tree must fold
to the tree hash, every other tile must fold to its entry in its parent) and returns the
requested hashes. Only authenticated tile bytes may be cached.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from gomodproxy.errors import InvalidInput, VerificationError
from gomodproxy.sumdb.tlog import (
    HASH_SIZE,
    HashReader,
    Tree,
    node_hash,
    split_stored_hash_index,
    stored_hash_index,
    sub_tree_index,
)

__all__ = [
    "InconsistentTileError",
    "Tile",
    "TileHashPlan",
    "hash_from_tile",
    "new_tiles",
    "parse_tile_path",
    "read_tile_data",
    "tile_for_index",
    "tile_hash",
    "tile_hash_reader",
]

_PATH_BASE = 1000
_INT64_MAX = (1 << 63) - 1


class InconsistentTileError(VerificationError):
    """Tile bytes do not hash to the signed tree: "downloaded inconsistent tile"."""


@dataclass(frozen=True, order=True)
class Tile:
    """A tile: height ``h``, level ``l`` (-1 for data), number ``n``, width ``w``."""

    h: int
    l: int  # noqa: E741 - the field names follow Go's Tile{H, L, N, W}
    n: int
    w: int

    @property
    def full(self) -> bool:
        return self.w == 1 << self.h

    def path(self) -> str:
        """The tile's path, ``tile/H/L/NNN[.p/W]``."""
        n = self.n
        n_str = f"{n % _PATH_BASE:03d}"
        while n >= _PATH_BASE:
            n //= _PATH_BASE
            n_str = f"x{n % _PATH_BASE:03d}/{n_str}"
        p_str = "" if self.full else f".p/{self.w}"
        level = "data" if self.l == -1 else str(self.l)
        return f"tile/{self.h}/{level}/{n_str}{p_str}"


def _atoi(s: str) -> int | None:
    # strconv.Atoi: optional sign, ASCII digits; the path round-trip check rejects the rest.
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(s)


def parse_tile_path(path: str) -> Tile:
    """Parse a tile path; it must re-encode to itself.

    Raises:
        InvalidInput: 'malformed tile path "<path>"'.
    """
    err = InvalidInput(f'malformed tile path "{path}"')
    f = path.split("/")
    if len(f) < 4 or f[0] != "tile":
        raise err
    h = _atoi(f[1])
    is_data = f[2] == "data"
    level = 0 if is_data else _atoi(f[2])
    if h is None or level is None or h < 1 or level < 0 or h > 30:
        raise err
    w = 1 << h
    if f[-2].endswith(".p"):
        ww = _atoi(f[-1])
        if ww is None or ww <= 0 or ww >= w:
            raise err
        w = ww
        f[-2] = f[-2][: -len(".p")]
        f = f[:-1]
    n = 0
    for s in f[3:]:
        nn = _atoi(s.removeprefix("x"))
        if nn is None or nn < 0 or nn >= _PATH_BASE:
            raise err
        n = n * _PATH_BASE + nn
    if n > _INT64_MAX:
        raise err
    t = Tile(h, -1 if is_data else level, n, w)
    if t.path() != path:
        raise err
    return t


def _tile_for_index(h: int, index: int) -> tuple[Tile, int, int]:
    level, n = split_stored_hash_index(index)
    tl = level // h
    level -= tl * h
    tn = (n << level) >> h
    n -= (tn << h) >> level
    t = Tile(h, tl, tn, (n + 1) << level)
    return t, (n << level) * HASH_SIZE, ((n + 1) << level) * HASH_SIZE


def tile_for_index(h: int, index: int) -> Tile:
    """The smallest tile of height ``h`` that contains stored hash ``index``."""
    if h <= 0:
        raise InvalidInput(f"TileForIndex: invalid height {h}")
    return _tile_for_index(h, index)[0]


@functools.lru_cache(maxsize=1024)
def tile_hash(data: bytes) -> bytes:
    """Fold a run of 2^k hashes (a tile's aligned part) into one hash.

    Memoized (about 8 MiB at most): every lookup authenticates the chain of tiles above its
    record again, the same few full tiles each time, 255 SHA-256 calls per tile.
    """
    return _fold(data)


def _fold(data: bytes) -> bytes:
    if len(data) == HASH_SIZE:
        return data
    half = len(data) // 2
    return node_hash(_fold(data[:half]), _fold(data[half:]))


def hash_from_tile(t: Tile, data: bytes, index: int) -> bytes:
    """The stored hash ``index``, computed from the bytes of tile ``t``.

    Raises:
        InvalidInput: the tile is invalid, too short, or does not hold that index.
    """
    if t.h < 1 or t.h > 30 or t.l < 0 or t.l >= 64 or t.w < 1 or t.w > 1 << t.h:
        raise InvalidInput(f"invalid tile {t.path()}")
    if len(data) < t.w * HASH_SIZE:
        raise InvalidInput(f"data len {len(data)} too short for tile {t.path()}")
    t1, start, end = _tile_for_index(t.h, index)
    if t.l != t1.l or t.n != t1.n or t.w < t1.w:
        raise InvalidInput(f"index {index} is in {t1.path()} not {t.path()}")
    return tile_hash(data[start:end])


def new_tiles(h: int, old_size: int, new_size: int) -> list[Tile]:
    """The tiles to publish when a log of height ``h`` grows from old_size to new_size."""
    if h <= 0:
        raise InvalidInput(f"NewTiles: invalid height {h}")
    tiles: list[Tile] = []
    level = 0
    while new_size >> (h * level) > 0:
        old_n = old_size >> (h * level)
        new_n = new_size >> (h * level)
        if old_n != new_n:
            tiles.extend(Tile(h, level, n, 1 << h) for n in range(old_n >> h, new_n >> h))
            n = new_n >> h
            if (w := new_n - (n << h)) > 0:
                tiles.append(Tile(h, level, n, w))
        level += 1
    return tiles


def read_tile_data(t: Tile, reader: HashReader) -> bytes:
    """The bytes of hash tile ``t`` from stored hashes."""
    start = t.n << t.h
    indexes = [stored_hash_index(t.h * t.l, start + i) for i in range(t.w)]
    hashes = list(reader(indexes))
    if len(hashes) != len(indexes):
        raise InvalidInput(f"tlog: ReadHashes({len(indexes)} indexes) = {len(hashes)} hashes")
    return b"".join(hashes)


def _tile_parent(t: Tile, k: int, n: int) -> Tile | None:
    level = t.l + k
    num = t.n >> (k * t.h)
    w = 1 << t.h
    limit = n >> (level * t.h)
    if (num << t.h) + w >= limit:
        if num << t.h >= limit:
            return None
        w = limit - (num << t.h)
    return Tile(t.h, level, num, w)


class TileHashPlan:
    """The tiles needed to read ``indexes`` from the tree ``tree``, and their authentication."""

    def __init__(self, tree: Tree, height: int, indexes: Sequence[int]) -> None:
        self.tree = tree
        self.indexes = list(indexes)
        self.tiles: list[Tile] = []
        order: dict[Tile | None, int] = {}
        self._stx = sub_tree_index(0, tree.n)
        self._stx_order: list[int] = []
        for x in self._stx:
            tile = _tile_parent(_tile_for_index(height, x)[0], 0, tree.n)
            if tile not in order:
                order[tile] = len(self.tiles)
                self.tiles.append(_must(tile))
            self._stx_order.append(order[tile])
        self._index_order: list[int] = []
        limit = stored_hash_index(0, tree.n)
        for x in self.indexes:
            if x >= limit:
                raise InvalidInput("indexes not in tree")
            tile = _tile_for_index(height, x)[0]
            k = 0
            while _tile_parent(tile, k, tree.n) not in order:
                k += 1
            if k == 0:
                self._index_order.append(order[_tile_parent(tile, 0, tree.n)])
            for kk in range(k - 1, -1, -1):
                p = _must(_tile_parent(tile, kk, tree.n))
                if not p.full:
                    raise InvalidInput(f"bad math in tileHashReader: {tree.n} {x} {p}")
                order[p] = len(self.tiles)
                if kk == 0:
                    self._index_order.append(len(self.tiles))
                self.tiles.append(p)
        self._order = order

    def authenticate(self, data: Sequence[bytes]) -> list[bytes]:
        """Check the tiles' bytes against the tree and return the requested hashes.

        Raises:
            InvalidInput: a tile has the wrong length.
            InconsistentTileError: "downloaded inconsistent tile".
        """
        if len(data) != len(self.tiles):
            raise InvalidInput(
                f"TileReader returned bad result slice (len={len(data)}, want {len(self.tiles)})"
            )
        for tile, d in zip(self.tiles, data, strict=True):
            if len(d) != tile.w * HASH_SIZE:
                raise InvalidInput(
                    f"TileReader returned bad result slice ({tile.path()} len={len(d)}, "
                    f"want {tile.w * HASH_SIZE})"
                )
        th = b""
        for i in range(len(self._stx) - 1, -1, -1):
            j = self._stx_order[i]
            h = hash_from_tile(self.tiles[j], data[j], self._stx[i])
            th = h if i == len(self._stx) - 1 else node_hash(h, th)
        if th != self.tree.hash:
            raise InconsistentTileError("downloaded inconsistent tile")
        first = self._stx_order[-1] + 1 if self._stx else 0
        for i in range(first, len(self.tiles)):
            tile = self.tiles[i]
            p = _must(_tile_parent(tile, 1, self.tree.n))
            j = self._order[p]
            h = hash_from_tile(p, data[j], stored_hash_index(p.l * p.h, tile.n))
            if h != tile_hash(data[i]):
                raise InconsistentTileError("downloaded inconsistent tile")
        return [
            hash_from_tile(self.tiles[j], data[j], x)
            for j, x in zip(self._index_order, self.indexes, strict=True)
        ]


def _must(t: Tile | None) -> Tile:
    if t is None:
        raise InvalidInput("bad math in tileHashReader")
    return t


def tile_hash_reader(
    tree: Tree, height: int, read_tiles: Callable[[list[Tile]], Sequence[bytes]]
) -> HashReader:
    """A ``HashReader`` over tiles authenticated against ``tree`` (tlog.TileHashReader), for
    callers that can read tiles synchronously (a server over its own storage, tests)."""

    def read(indexes: Sequence[int]) -> list[bytes]:
        plan = TileHashPlan(tree, height, indexes)
        return plan.authenticate(read_tiles(plan.tiles))

    return read


def full_tile(t: Tile) -> Tile:
    """The full tile that a partial tile is a prefix of."""
    return replace(t, w=1 << t.h)
