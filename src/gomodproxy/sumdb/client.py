"""A checksum-database client as a sans-IO flow, as in golang.org/x/mod/sumdb (client.go).

Theory of operation
-------------------
``Client`` holds one trusted verifier key, the tile height (8) and the latest tree head it has
verified. Its operations are generators: they *yield* requests (``ReadRemote``, ``ReadTiles``,
``ReadConfig`` …) and receive the answers through ``send``; an I/O driver runs them over HTTP,
a BlobStore or a test dictionary. A driver that cannot answer throws its exception into the
flow (``gen.throw``) or simply stops; the flow holds no resources.

``lookup(path, version)`` reads ``/lookup/<path>@<version>`` (or the cached copy), merges the
signed tree note of the response into the timeline, and authenticates the record against the
latest tree through tiles. Only then is the response cached and its go.sum lines returned.

Timeline merge and fork detection (``mergeLatest``): a tree no larger than the latest must be a
prefix of it (its hash recomputed from tiles signed by the latest); a larger tree must contain
the latest. If not, the log has shown two incompatible histories: ``ForkDetected`` is raised,
carrying the SECURITY ERROR report with both notes and the proof. The latest tree is persisted
as config ``<name>/latest`` (compare-and-swap), which is what makes forks across restarts
detectable.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gomodproxy.errors import GoModProxyError, InvalidInput, VerificationError
from gomodproxy.gomod.module import escape_path, escape_version
from gomodproxy.sumdb import note as notes
from gomodproxy.sumdb import tlog
from gomodproxy.sumdb.tile import Tile, TileHashPlan

__all__ = [
    "Client",
    "Flow",
    "ForkDetected",
    "ReadCache",
    "ReadConfig",
    "ReadRemote",
    "ReadTiles",
    "Request",
    "SaveTiles",
    "WriteCache",
    "WriteConfig",
    "record_lines",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ReadRemote:
    """GET ``<database URL><path>``; answer: the body (raise NotFound/UpstreamError if not 200)."""

    path: str


@dataclass(frozen=True)
class ReadCache:
    """Read a cache file; answer: its bytes, or None if absent or empty."""

    key: str


@dataclass(frozen=True)
class WriteCache:
    """Write a cache file (verified data only); answer: None."""

    key: str
    data: bytes


@dataclass(frozen=True)
class ReadConfig:
    """Read persistent state (``<name>/latest``); answer: bytes (empty if absent)."""

    key: str


@dataclass(frozen=True)
class WriteConfig:
    """Replace persistent state if it still equals ``old``; answer: True, or False on a
    write conflict (the flow re-reads and re-merges)."""

    key: str
    old: bytes
    new: bytes


@dataclass(frozen=True)
class ReadTiles:
    """Fetch tiles; answer: their bytes, each exactly 32·W long. A driver tries, per tile: the
    cache, the cached full tile truncated, ``/<tile path>``, the full tile truncated."""

    tiles: tuple[Tile, ...]


@dataclass(frozen=True)
class SaveTiles:
    """These tiles were authenticated: the driver may cache them; answer: None."""

    tiles: tuple[Tile, ...]
    data: tuple[bytes, ...]


Request = ReadRemote | ReadCache | WriteCache | ReadConfig | WriteConfig | ReadTiles | SaveTiles
#: A flow yields requests, receives answers, and returns a value of type T.
Flow = Generator[Request, Any, T]


class ForkDetected(VerificationError):
    """The database showed two inconsistent trees: it misbehaves (a security event).

    ``report`` is the go command's SECURITY ERROR text, with both signed notes and the proof.
    """

    def __init__(self, report: str) -> None:
        super().__init__("security error: misbehaving server")
        self.report = report


class RecordError(VerificationError):
    """The lookup response's record cannot be authenticated against the tree."""


_PAST, _NOW, _FUTURE = 1, 2, 3

ErrT = TypeVar("ErrT", bound=GoModProxyError)


def _wrapped(exc: ErrT, message: str) -> ErrT:
    """A new error of ``exc``'s class and attributes (``gone``, ``status``, ``report``…) with
    ``message``, as Go's ``fmt.Errorf`` wraps: ``exc`` itself is left untouched, because a
    driver may memoize it and throw the same object into later flows (x/mod's per-client tile
    and lookup caches do), which must not see this flow's context in its text."""
    cls = type(exc)
    new = cls.__new__(cls, message, *exc.args[1:])  # subclasses' __init__ signatures vary
    new.__dict__.update(vars(exc))
    return new


def record_lines(lines: Sequence[str], path: str, version: str) -> list[str]:
    """The lines of a record that are about ``path version`` (version may end in ``/go.mod``)."""
    prefix = f"{path} {version} "
    return [line for line in lines if line.startswith(prefix)]


class Client:
    """Verifies lookups of one checksum database (one trusted key)."""

    def __init__(self, vkey: str, tile_height: int = 8) -> None:
        """Raises InvalidInput if ``vkey`` is not a valid verifier key string."""
        self.verifier = notes.new_verifier(vkey.strip())
        self.verifiers = notes.Verifiers([self.verifier])
        self.name = self.verifier.name
        self.tile_height = tile_height
        self.latest = tlog.Tree(0, tlog.EMPTY_HASH)
        self.latest_msg = b""
        self._initialized = False

    @property
    def config_key(self) -> str:
        return f"{self.name}/latest"

    def init(self) -> Flow[None]:
        """Load the persisted latest tree (once) and check it against what is in memory."""
        if self._initialized:
            return
        data = yield ReadConfig(self.config_key)
        yield from self.merge_latest(data or b"")
        self._initialized = True

    def lookup(self, path: str, version: str) -> Flow[list[str]]:
        """The go.sum lines for ``path version`` (version may end in ``/go.mod``), verified.

        Raises:
            InvalidInput: bad path/version or a malformed response.
            VerificationError: the response does not authenticate; ``ForkDetected``.
            NotFound, UpstreamError: thrown in by the driver.
        """
        lines = yield from self.lookup_record(path, version)
        return record_lines(lines, path, version)

    def lookup_record(self, path: str, version: str) -> Flow[list[str]]:
        """Every line of the verified record of ``path@version`` (the zip's and the go.mod's:
        one record holds both), for a driver that keeps records; errors as ``lookup``'s."""
        try:
            yield from self.init()
            epath = escape_path(path)
            evers = escape_version(version.removesuffix("/go.mod"))
            remote = f"/lookup/{epath}@{evers}"
            key = self.name + remote
            data = yield ReadCache(key)
            write_cache = not data
            if write_cache:
                data = yield ReadRemote(remote)
            record_id, text, tree_msg = tlog.parse_record(data)
            yield from self.merge_latest(tree_msg)
            yield from self.check_record(record_id, text)
            if write_cache:
                yield WriteCache(key, data)
        except GoModProxyError as exc:
            raise _wrapped(exc, f"{path}@{version}: {exc}") from exc
        return text.decode().split("\n")

    def merge_latest(self, msg: bytes) -> Flow[None]:
        """Merge a signed tree note into the timeline; persist it if it is the newest."""
        when = yield from self._merge_latest_mem(msg)
        if when != _FUTURE:
            return
        while True:
            stored = yield ReadConfig(self.config_key)
            stored = stored or b""
            when = yield from self._merge_latest_mem(stored)
            if when != _PAST:
                return
            ok = yield WriteConfig(self.config_key, stored, self.latest_msg)
            if ok:
                return

    def _merge_latest_mem(self, msg: bytes) -> Flow[int]:
        if not msg:
            return _NOW if self.latest.n == 0 else _PAST
        if msg == self.latest_msg:
            # The signed note of the latest tree again (most lookups carry it): verified once.
            return _NOW
        try:
            opened = notes.open_note(msg, self.verifiers)
        except GoModProxyError as exc:
            text = msg.decode(errors="replace")
            raise _wrapped(exc, f"reading tree note: {exc}\nnote:\n{text}") from exc
        try:
            tree = tlog.parse_tree(opened.text.encode())
        except InvalidInput as exc:
            raise _wrapped(exc, f"reading tree: {exc}\ntree:\n{opened.text}") from exc
        latest, latest_msg = self.latest, self.latest_msg
        while True:
            if tree == latest:
                # Tiles authenticated against a tree always fold to its own hash: nothing to read.
                return _NOW
            if tree.n <= latest.n:
                yield from self._check_trees(tree, msg, latest, latest_msg)
                return _PAST if tree.n < latest.n else _NOW
            yield from self._check_trees(latest, latest_msg, tree, msg)
            if self.latest == latest:
                self.latest, self.latest_msg = tree, msg
                return _FUTURE
            # Another flow advanced the timeline while we were reading tiles: compare again.
            latest, latest_msg = self.latest, self.latest_msg

    def read_hashes(self, indexes: Sequence[int]) -> Flow[list[bytes]]:
        """Stored hashes of the log, authenticated against the latest verified tree (after
        loading the persisted one). A proxy uses it to vet tiles before caching them.

        Raises:
            InvalidInput: an index is not in the latest tree.
            VerificationError: the tiles read do not authenticate.
        """
        yield from self.init()
        return (yield from self._read_hashes(self.latest, indexes))

    def _read_hashes(self, tree: tlog.Tree, indexes: Sequence[int]) -> Flow[list[bytes]]:
        plan = TileHashPlan(tree, self.tile_height, indexes)
        data = yield ReadTiles(tuple(plan.tiles))
        hashes = plan.authenticate(data)
        yield SaveTiles(tuple(plan.tiles), tuple(data))
        return hashes

    def _tree_hash(self, n: int, tree: tlog.Tree) -> Flow[bytes]:
        if n == 0:
            return tlog.EMPTY_HASH
        hashes = yield from self._read_hashes(tree, tlog.sub_tree_index(0, n))
        return tlog.tree_hash(n, lambda _indexes: hashes)

    def _check_trees(
        self, older: tlog.Tree, older_note: bytes, newer: tlog.Tree, newer_note: bytes
    ) -> Flow[None]:
        try:
            h = yield from self._tree_hash(older.n, newer)
        except GoModProxyError as exc:
            where = (
                f"tree#{older.n}"
                if older.n == newer.n
                else f"tree#{older.n} against tree#{newer.n}"
            )
            raise _wrapped(exc, f"checking {where}: {exc}") from exc
        if h == older.hash:
            return
        report = yield from self._fork_report(older, older_note, newer, newer_note, h)
        raise ForkDetected(report)

    def _fork_report(
        self,
        older: tlog.Tree,
        older_note: bytes,
        newer: tlog.Tree,
        newer_note: bytes,
        h: bytes,
    ) -> Flow[str]:
        def indent(b: bytes) -> str:
            return b.decode(errors="replace").replace("\n", "\n\t")

        out = [
            "SECURITY ERROR\n",
            "go.sum database server misbehavior detected!\n\n",
            f"old database:\n\t{indent(older_note)}\n",
            f"new database:\n\t{indent(newer_note)}\n",
            f"proof of misbehavior:\n\t{tlog.hash_string(h)}",
        ]
        try:
            indexes = tlog.tree_proof_indexes(newer.n, older.n)
            hashes = yield from self._read_hashes(newer, indexes)
            proof = tlog.prove_tree(newer.n, older.n, lambda _ix: hashes)
            tlog.check_tree(proof, newer.n, newer.hash, older.n, h)
        except tlog.ProofError:
            out.append("\tinternal error: generated inconsistent proof\n")
        except GoModProxyError as exc:
            out.append(f"\tinternal error: {exc}\n")
        else:
            out.extend(f"\n\t{tlog.hash_string(p)}" for p in proof)
        return "".join(out)

    def check_record(self, record_id: int, data: bytes) -> Flow[None]:
        """Authenticate record ``record_id`` with text ``data`` against the latest tree."""
        latest = self.latest
        if record_id >= latest.n:
            raise RecordError(f"cannot validate record {record_id} in tree of size {latest.n}")
        hashes = yield from self._read_hashes(latest, [tlog.stored_hash_index(0, record_id)])
        if hashes[0] != tlog.record_hash(data):
            raise RecordError("cannot authenticate record data in server response")
