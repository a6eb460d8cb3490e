"""The pure half of a private checksum database: an append-only log of go.sum records, its
tree, tiles and signed tree notes, answering what golang.org/x/mod/sumdb's Server serves
(server.go, test.go).

Theory of operation
-------------------
``Log`` keeps the record texts and the stored hashes of the tree, in memory. Appending a
record computes its stored hashes from the ones already there (``stored_hashes``); nothing is
ever rewritten, and a module version has exactly one record, so a changed hash for an existing
version is refused: that is precisely what the go command would detect. The adapter persists
records and rebuilds a ``Log`` from them at start-up; it signs only trees whose records it has
persisted.

Endpoint bodies, byte-compatible with the x/mod Server: ``/latest`` is the signed tree note;
``/lookup/M@V`` is the record (id line, text, blank line) followed by the signed note;
``/tile/H/L/N[.p/W]`` is W stored hashes; ``/tile/H/data/N[.p/W]`` is each record's text
followed by a blank line (no ids, as sum.golang.org serves them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gomodproxy.errors import InvalidInput, NotFound
from gomodproxy.gomod.module import unescape_path, unescape_version
from gomodproxy.sumdb import note as notes
from gomodproxy.sumdb import tlog
from gomodproxy.sumdb.tile import Tile, read_tile_data

__all__ = ["LOOKUP_RE", "Log", "gosum_record", "parse_lookup"]

#: What the x/mod Server accepts after ``/lookup/`` (escaped module@version).
LOOKUP_RE = re.compile(r"^[^@]+@v\d+\.\d+\.\d+(-[^@]*)?(\+incompatible)?$")


def parse_lookup(target: str) -> tuple[str, str]:
    """The (path, version) of a ``/lookup/<escaped path>@<escaped version>`` target, checked
    as the x/mod Server checks it.

    Raises:
        InvalidInput: "invalid module@version syntax", or a bad escaped path or version.
    """
    if not LOOKUP_RE.match(target):
        raise InvalidInput("invalid module@version syntax")
    epath, _, evers = target.partition("@")
    return unescape_path(epath), unescape_version(evers)


def gosum_record(path: str, version: str, zip_h1: str, mod_h1: str) -> bytes:
    """The record text of a module version: its two go.sum lines."""
    return f"{path} {version} {zip_h1}\n{path} {version}/go.mod {mod_h1}\n".encode()


def _record_key(text: bytes) -> str:
    # The first field pair of the first line, "path version", identifies the record.
    first = text.split(b"\n", 1)[0].decode().split(" ")
    if len(first) < 3:
        raise InvalidInput("malformed record data")
    return f"{first[0]}@{first[1]}"


class Log:
    """An in-memory transparent log of go.sum records with tile height ``height``."""

    def __init__(self, height: int = 8) -> None:
        self.height = height
        self.records: list[bytes] = []
        self.hashes: list[bytes] = []
        self._ids: dict[str, int] = {}

    @property
    def size(self) -> int:
        return len(self.records)

    def _read(self, indexes: Sequence[int]) -> list[bytes]:
        return [self.hashes[i] for i in indexes]

    def append(self, text: bytes) -> int:
        """Add a record; its id. An identical record already present returns its id.

        Raises:
            InvalidInput: malformed record text, or a *different* record for the same
                module version (an append-only log never changes a hash).
        """
        tlog.format_record(0, text)  # validates the text
        key = _record_key(text)
        if key in self._ids:
            existing = self._ids[key]
            if self.records[existing] != text:
                raise InvalidInput(f"{key}: the log already holds different hashes")
            return existing
        record_id = self.size
        self.hashes.extend(tlog.stored_hashes(record_id, text, self._read))
        self.records.append(text)
        self._ids[key] = record_id
        return record_id

    def find(self, path: str, version: str) -> int:
        """The id of the record of ``path@version``.

        Raises:
            NotFound: the log has no record for it.
        """
        try:
            return self._ids[f"{path}@{version}"]
        except KeyError:
            raise NotFound(f"not found: {path}@{version}") from None

    def tree(self) -> tlog.Tree:
        """The current tree head."""
        return tlog.Tree(self.size, tlog.tree_hash(self.size, self._read))

    def signed_tree(self, signer: notes.Signer) -> bytes:
        """The current tree note, signed: the ``/latest`` body."""
        return notes.sign(notes.Note(tlog.format_tree(self.tree()).decode()), [signer])

    def lookup_body(self, record_id: int, signed: bytes) -> bytes:
        """The ``/lookup/...`` body for a record, with a signed note of the current tree."""
        return tlog.format_record(record_id, self.records[record_id]) + signed

    def tile(self, t: Tile) -> bytes:
        """The bytes of a tile of the current tree.

        Raises:
            InvalidInput: the tile height is not the log's.
            NotFound: the tile is beyond the current tree.
        """
        if t.h != self.height:
            raise InvalidInput(f"tile height {t.h} is not {self.height}")
        if t.l == -1:
            start = t.n << t.h
            if start + t.w > self.size:
                raise NotFound(f"not found: {t.path()}")
            return b"".join(r + b"\n" for r in self.records[start : start + t.w])
        level_size = self.size >> (t.h * t.l)
        if (t.n << t.h) + t.w > level_size:
            raise NotFound(f"not found: {t.path()}")
        return read_tile_data(t, self._read)
