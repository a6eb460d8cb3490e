"""Transparent-log hashes, stored-hash indexes and proofs, as in golang.org/x/mod/sumdb/tlog
(tlog.go, note.go).

Theory of operation
-------------------
The log is an RFC 6962 Merkle tree: a record's leaf hash is SHA-256(0x00 ‖ text), an interior
node SHA-256(0x01 ‖ left ‖ right), and a tree of N records is split at the largest power of two
strictly below N. Every *complete* subtree hash (level L, index n) has a dense "stored hash
index" in the order an append-only log writes them (Crosby–Wallach); a log stores exactly
those hashes and reads everything else from them.

Functions that need stored hashes take a ``HashReader``: a callable from a list of stored
indexes to the list of their hashes. A server passes one over its hash table; the client passes
one backed by tiles it has authenticated against a signed tree (see ``tile.py``).

Hashes are 32-byte ``bytes``; ``hash_string`` prints them as Go does (padded base64).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gomodproxy.errors import InvalidInput, VerificationError
from gomodproxy.sumdb.note import b64decode, b64encode

__all__ = [
    "EMPTY_HASH",
    "HASH_SIZE",
    "HashReader",
    "Tree",
    "check_record",
    "check_tree",
    "format_record",
    "format_tree",
    "hash_string",
    "node_hash",
    "parse_hash",
    "parse_record",
    "parse_tree",
    "prove_record",
    "prove_tree",
    "record_hash",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes",
    "stored_hashes_for_record_hash",
    "sub_tree_index",
    "tree_hash",
    "tree_proof_indexes",
]

HASH_SIZE = 32
EMPTY_HASH = hashlib.sha256(b"").digest()
INT64_MAX = (1 << 63) - 1

#: Reads stored hashes by index; returns them in the same order.
HashReader = Callable[[Sequence[int]], Sequence[bytes]]


class ProofError(VerificationError):
    """A record or tree proof does not check out."""


def hash_string(h: bytes) -> str:
    """The printed form of a hash (standard base64, padded)."""
    return b64encode(h)


def parse_hash(s: str) -> bytes:
    """Parse a printed hash.

    Raises:
        InvalidInput: "malformed hash".
    """
    try:
        data = b64decode(s)
    except InvalidInput:
        data = b""
    if len(data) != HASH_SIZE:
        raise InvalidInput("malformed hash")
    return data


def record_hash(data: bytes) -> bytes:
    """The leaf hash of a record's text."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _maxpow2(n: int) -> tuple[int, int]:
    """The largest power of two strictly less than ``n`` (for n ≥ 2), and its log2."""
    level = 0
    while 1 << (level + 1) < n:
        level += 1
    return 1 << level, level


def stored_hash_index(level: int, n: int) -> int:
    """The stored index of the hash of the level-``level`` subtree number ``n``."""
    for _ in range(level):
        n = 2 * n + 1
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def _trailing_zeros(x: int) -> int:
    return (x & -x).bit_length() - 1 if x else 64


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """The (level, n) of a stored hash index: the inverse of ``stored_hash_index``."""
    n = index // 2
    index_n = stored_hash_index(0, n)
    while True:
        x = index_n + 1 + _trailing_zeros(n + 1)
        if x > index:
            break
        n += 1
        index_n = x
    level = index - index_n
    return level, n >> level


def stored_hash_count(n: int) -> int:
    """How many hashes a log of ``n`` records stores."""
    if n == 0:
        return 0
    count = stored_hash_index(0, n - 1) + 1
    i = n - 1
    while i & 1:
        count += 1
        i >>= 1
    return count


def stored_hashes(n: int, data: bytes, reader: HashReader) -> list[bytes]:
    """The hashes to store when appending record ``n`` with text ``data``."""
    return stored_hashes_for_record_hash(n, record_hash(data), reader)


def stored_hashes_for_record_hash(n: int, h: bytes, reader: HashReader) -> list[bytes]:
    """The hashes to store when appending record ``n`` whose leaf hash is ``h``."""
    hashes = [h]
    m = _trailing_zeros(n + 1)
    indexes = [stored_hash_index(i, (n >> i) - 1) for i in reversed(range(m))]
    old = _read(reader, indexes)
    for i in range(m):
        h = node_hash(old[m - 1 - i], h)
        hashes.append(h)
    return hashes


def _read(reader: HashReader, indexes: list[int]) -> list[bytes]:
    hashes = list(reader(indexes))
    if len(hashes) != len(indexes):
        raise InvalidInput(f"tlog: ReadHashes({len(indexes)} indexes) = {len(hashes)} hashes")
    return hashes


def sub_tree_index(lo: int, hi: int, need: list[int] | None = None) -> list[int]:
    """Append the stored indexes of the maximal complete subtrees covering [lo, hi)."""
    need = [] if need is None else need
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _sub_tree_hash(lo: int, hi: int, hashes: list[bytes]) -> tuple[bytes, list[bytes]]:
    num = 0
    while lo < hi:
        k, _ = _maxpow2(hi - lo + 1)
        num += 1
        lo += k
    h = hashes[num - 1]
    for i in range(num - 2, -1, -1):
        h = node_hash(hashes[i], h)
    return h, hashes[num:]


def tree_hash(n: int, reader: HashReader) -> bytes:
    """The root hash of the tree of the first ``n`` records."""
    if n == 0:
        return EMPTY_HASH
    indexes = sub_tree_index(0, n)
    h, _ = _sub_tree_hash(0, n, _read(reader, indexes))
    return h


def prove_record(t: int, n: int, reader: HashReader) -> list[bytes]:
    """The proof that record ``n`` is in the tree of size ``t``.

    Raises:
        InvalidInput: n is not in [0, t).
    """
    if t < 0 or n < 0 or n >= t:
        raise InvalidInput("tlog: invalid inputs in ProveRecord")
    indexes = _leaf_proof_index(0, t, n, [])
    if not indexes:
        return []
    proof, _ = _leaf_proof(0, t, n, _read(reader, indexes))
    return proof


def _leaf_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if lo + 1 == hi:
        return need
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        _leaf_proof_index(lo, lo + k, n, need)
        sub_tree_index(lo + k, hi, need)
    else:
        sub_tree_index(lo, lo + k, need)
        _leaf_proof_index(lo + k, hi, n, need)
    return need


def _leaf_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if lo + 1 == hi:
        return [], hashes
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        p, hashes = _leaf_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _leaf_proof(lo + k, hi, n, hashes)
    return [*p, th], hashes


def _proof_failed() -> ProofError:
    return ProofError("invalid transparency proof")


def check_record(proof: Sequence[bytes], t: int, th: bytes, n: int, h: bytes) -> None:
    """Check that ``proof`` shows record ``n`` with leaf hash ``h`` in tree (t, th).

    Raises:
        InvalidInput: n is not in [0, t).
        ProofError: "invalid transparency proof".
    """
    if t < 0 or n < 0 or n >= t:
        raise InvalidInput("tlog: invalid inputs in CheckRecord")
    if _run_record_proof(list(proof), 0, t, n, h) != th:
        raise _proof_failed()


def _run_record_proof(p: list[bytes], lo: int, hi: int, n: int, leaf: bytes) -> bytes:
    if lo + 1 == hi:
        if p:
            raise _proof_failed()
        return leaf
    if not p:
        raise _proof_failed()
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        return node_hash(_run_record_proof(p[:-1], lo, lo + k, n, leaf), p[-1])
    return node_hash(p[-1], _run_record_proof(p[:-1], lo + k, hi, n, leaf))


def prove_tree(t: int, n: int, reader: HashReader) -> list[bytes]:
    """The proof that the tree of size ``n`` is a prefix of the tree of size ``t``.

    Raises:
        InvalidInput: not 1 ≤ n ≤ t.
    """
    if t < 1 or n < 1 or n > t:
        raise InvalidInput("tlog: invalid inputs in ProveTree")
    indexes = _tree_proof_index(0, t, n, [])
    if not indexes:
        return []
    proof, _ = _tree_proof(0, t, n, _read(reader, indexes))
    return proof


def tree_proof_indexes(t: int, n: int) -> list[int]:
    """The stored indexes ``prove_tree(t, n, ...)`` reads (to fetch them ahead)."""
    if t < 1 or n < 1 or n > t:
        raise InvalidInput("tlog: invalid inputs in ProveTree")
    return _tree_proof_index(0, t, n, [])


def _tree_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if n == hi:
        return need if lo == 0 else sub_tree_index(lo, hi, need)
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        _tree_proof_index(lo, lo + k, n, need)
        sub_tree_index(lo + k, hi, need)
    else:
        sub_tree_index(lo, lo + k, need)
        _tree_proof_index(lo + k, hi, n, need)
    return need


def _tree_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if n == hi:
        if lo == 0:
            return [], hashes
        th, hashes = _sub_tree_hash(lo, hi, hashes)
        return [th], hashes
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        p, hashes = _tree_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _tree_proof(lo + k, hi, n, hashes)
    return [*p, th], hashes


def check_tree(proof: Sequence[bytes], t: int, th: bytes, n: int, h: bytes) -> None:
    """Check that ``proof`` shows tree (n, h) is a prefix of tree (t, th).

    Raises:
        InvalidInput: not 1 ≤ n ≤ t.
        ProofError: "invalid transparency proof".
    """
    if t < 1 or n < 1 or n > t:
        raise InvalidInput("tlog: invalid inputs in CheckTree")
    h2, th2 = _run_tree_proof(list(proof), 0, t, n, h)
    if th2 != th or h2 != h:
        raise _proof_failed()


def _run_tree_proof(p: list[bytes], lo: int, hi: int, n: int, old: bytes) -> tuple[bytes, bytes]:
    if n == hi:
        if lo == 0:
            if p:
                raise _proof_failed()
            return old, old
        if len(p) != 1:
            raise _proof_failed()
        return p[0], p[0]
    if not p:
        raise _proof_failed()
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        oh, th = _run_tree_proof(p[:-1], lo, lo + k, n, old)
        return oh, node_hash(th, p[-1])
    oh, th = _run_tree_proof(p[:-1], lo + k, hi, n, old)
    return node_hash(p[-1], oh), node_hash(p[-1], th)


# --- tree notes and records (tlog/note.go) -------------------------------------------------

_TREE_PREFIX = b"go.sum database tree\n"
_INT64_RE = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Tree:
    """A tree head: its size and root hash."""

    n: int
    hash: bytes


def format_tree(tree: Tree) -> bytes:
    """The text of a tree note (to be signed)."""
    return f"go.sum database tree\n{tree.n}\n{hash_string(tree.hash)}\n".encode()


def parse_tree(text: bytes) -> Tree:
    """Parse the text of a tree note; lines after the third are ignored.

    Raises:
        InvalidInput: "malformed tree note".
    """
    err = InvalidInput("malformed tree note")
    if not text.startswith(_TREE_PREFIX) or text.count(b"\n") < 3 or len(text) > 1_000_000:
        raise err
    lines = text.split(b"\n", 3)
    n_text = lines[1].decode("utf-8", "replace")
    if not n_text.isascii() or not n_text.isdigit() or str(int(n_text)) != n_text:
        raise err
    n = int(n_text)
    if n > INT64_MAX:
        raise err
    try:
        h = b64decode(lines[2])
    except InvalidInput:
        raise err from None
    if len(h) != HASH_SIZE:
        raise err
    return Tree(n, h)


def _is_valid_record_text(text: bytes) -> bool:
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(c < " " and c != "\n" for c in s) or "\n\n" in s:
        return False
    return s.endswith("\n")


def format_record(record_id: int, text: bytes) -> bytes:
    """A lookup response's record part: the id line, the text, a blank line.

    Raises:
        InvalidInput: "malformed record data".
    """
    if not _is_valid_record_text(text):
        raise InvalidInput("malformed record data")
    return b"%d\n" % record_id + text + b"\n"


def parse_record(msg: bytes) -> tuple[int, bytes, bytes]:
    """Split a lookup response into (record id, record text, rest = signed tree note).

    Raises:
        InvalidInput: "malformed record data".
    """
    err = InvalidInput("malformed record data")
    i = msg.find(b"\n")
    if i < 0:
        raise err
    id_text = msg[:i].decode("ascii", "replace")
    if not _INT64_RE.fullmatch(id_text):
        raise err
    record_id = int(id_text)
    if not -INT64_MAX - 1 <= record_id <= INT64_MAX:
        raise err
    msg = msg[i + 1 :]
    j = msg.find(b"\n\n")
    if j < 0:
        raise err
    text, rest = msg[: j + 1], msg[j + 2 :]
    if not _is_valid_record_text(text):
        raise err
    return record_id, text, rest
