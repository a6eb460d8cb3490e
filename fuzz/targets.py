"""Fuzz targets: one function per parser, bytes in, only our own errors out.

Each target feeds arbitrary bytes to one parser that sees attacker-controlled input and
lets through only the errors that parser is documented to raise (the ``InvalidInput``
family; ``NotFound`` for request paths, which name absent modules; ``VerificationError`` for
notes and tiles, whose job is to refuse). Anything else escaping (an ``IndexError``, a
``UnicodeDecodeError``, a ``RecursionError``) is a bug: the harness lets it propagate so
atheris records a crash and the property test fails. Used by ``fuzz/run.py`` (atheris) and
``tests/property/test_fuzz_smoke.py`` (Hypothesis, bounded).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable

from gomodproxy.errors import InvalidInput, NotFound, VerificationError
from gomodproxy.sumdb.note import Verifiers

Target = Callable[[bytes], None]


def request_path(data: bytes) -> None:
    """server.paths.parse_request: the first thing every request meets."""
    from gomodproxy.server.paths import parse_request

    text = "/" + data.decode("utf-8", "surrogateescape")
    try:
        parse_request(text)
    except (InvalidInput, NotFound):
        pass


def gomod(data: bytes) -> None:
    """gomod.modfile.parse_gomod: go.mod files from upstreams and repositories."""
    from gomodproxy.gomod.modfile import parse_gomod

    for strict in (False, True):
        try:
            parse_gomod(data, strict=strict)
        except InvalidInput:
            pass


def zip_check(data: bytes) -> None:
    """zipfiles.check_zip and hash_zip: module zips from upstreams."""
    from gomodproxy.zipfiles import check_zip, hash_zip

    fd, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            check_zip(path, "example.com/m", "v1.0.0")
            hash_zip(path)
        except InvalidInput:
            pass
    finally:
        os.unlink(path)


def meta_tags(data: bytes) -> None:
    """sources.direct.discovery.parse_meta_go_imports: go-get pages (never raises)."""
    from gomodproxy.sources.direct.discovery import parse_meta_go_imports

    parse_meta_go_imports(data.decode("utf-8", "replace"))


def note(data: bytes) -> None:
    """sumdb.note.open_note: signed tree heads from checksum databases."""
    from gomodproxy.sumdb import note as notes

    try:
        notes.open_note(data, _known_verifiers())
    except (InvalidInput, VerificationError):
        pass


@functools.cache
def _known_verifiers() -> Verifiers:
    from gomodproxy.sumdb import note as notes

    _skey, vkey = notes.generate_key("sum.example", b"\x01" * 32)
    return notes.Verifiers([notes.new_verifier(vkey)])


def tile(data: bytes) -> None:
    """sumdb.tile.parse_tile_path and hash_from_tile: tile paths and tile bodies."""
    from gomodproxy.sumdb import tile as tiles

    path, _, body = data.partition(b"\n")
    try:
        t = tiles.parse_tile_path(path.decode("utf-8", "surrogateescape"))
    except InvalidInput:
        t = tiles.parse_tile_path("tile/8/0/000")
    index = int.from_bytes(body[:2] or b"\0", "big")
    try:
        tiles.hash_from_tile(t, body, index)
    except (InvalidInput, VerificationError):
        pass


TARGETS: dict[str, Target] = {
    "request_path": request_path,
    "gomod": gomod,
    "zip_check": zip_check,
    "meta_tags": meta_tags,
    "note": note,
    "tile": tile,
}
