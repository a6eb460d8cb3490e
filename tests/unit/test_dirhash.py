"""gomod.dirhash: the h1: hash of file sets, zips and go.mod files."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import dirhash

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "zip_dirhash.json").read_text())


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["id"])
def test_vectors(case: dict[str, Any]) -> None:
    """Each vector hashes to the value Go computed."""
    if "gomod" in case:
        assert dirhash.gomod_hash(case["gomod"].encode()) == case["hash"]
    else:
        files = {k: v.encode() for k, v in case["files"].items()}
        assert dirhash.hash1_bytes(files) == case["hash"]


def _by_hand(lines: list[tuple[bytes, bytes]]) -> str:
    summary = b"".join(
        hashlib.sha256(data).hexdigest().encode() + b"  " + name + b"\n"
        for name, data in sorted(lines)
    )
    return "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()


class TestHash1:
    def test_empty_constant(self) -> None:
        """EMPTY_HASH is the hash of no files."""
        assert dirhash.hash1([], lambda _n: ()) == dirhash.EMPTY_HASH

    def test_streams_chunks(self) -> None:
        """Content given in chunks hashes like the same content in one piece."""
        chunks = {"a": [b"da", b"ta", b""], "b": []}
        assert dirhash.hash1(chunks, lambda n: chunks[n]) == dirhash.hash1_bytes(
            {"a": b"data", "b": b""}
        )

    def test_byte_order_of_names(self) -> None:
        """Names sort by their UTF-8 bytes, also for undecodable bytes kept as surrogates."""
        names = {"\udcff": b"1", "\ue000": b"2", "z": b"3", "Z": b"4"}
        want = _by_hand([(dirhash.name_bytes(n), d) for n, d in names.items()])
        assert dirhash.hash1_bytes(names) == want

    def test_duplicate_names_hash_twice(self) -> None:
        """A name listed twice gives two lines, as Go's Hash1 does."""
        got = dirhash.hash1(["a", "a"], lambda _n: (b"x",))
        assert got == _by_hand([(b"a", b"x"), (b"a", b"x")])

    @pytest.mark.parametrize("fn", ["hash1_bytes", "hash1_digests"])
    def test_newline_rejected(self, fn: str) -> None:
        """A file name with a newline is refused with Go's message."""
        call = {
            "hash1_bytes": lambda: dirhash.hash1_bytes({"a\nb": b""}),
            "hash1_digests": lambda: dirhash.hash1_digests([("a\nb", "00")]),
        }[fn]
        with pytest.raises(InvalidInput, match=r"^dirhash: filenames with newlines are not"):
            call()

    def test_digests_equal_content(self) -> None:
        """hash1_digests over precomputed SHA-256s equals hashing the content."""
        files = {"b": b"2", "a": b"1"}
        digests = [(n, hashlib.sha256(d).hexdigest()) for n, d in files.items()]
        assert dirhash.hash1_digests(digests) == dirhash.hash1_bytes(files)

    def test_opener_errors_propagate(self) -> None:
        """An error from the opener reaches the caller unchanged."""

        def opener(_name: str) -> list[bytes]:
            raise OSError("gone")

        with pytest.raises(OSError, match="gone"):
            dirhash.hash1(["a"], opener)
