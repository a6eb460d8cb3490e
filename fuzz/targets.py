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
    from gomodproxy.service.requests import parse_request

    text = "/" + data.decode("utf-8", "surrogateescape")
    try:
        parse_request(text)
    except (InvalidInput, NotFound):
        pass


#: What ``redaction`` repeats its input to: a pattern that is quadratic anywhere takes
#: minutes at this length (seconds at 30 KB), so libFuzzer's -timeout and the smoke test's
#: timeout catch it; a linear pass takes milliseconds.
REDACTION_LENGTH = 64 << 10


def redaction(data: bytes) -> None:
    """security.redact.redact: every error line and log record; linear time on any text.

    Runs on the input and on the input repeated to ``REDACTION_LENGTH`` characters; the
    masked text must hold no URL user-info and masking it again must change nothing.
    """
    from gomodproxy.redact.mask import _USERINFO, MASK
    from gomodproxy.redact.secrets import redact

    text = data.decode("utf-8", "surrogateescape")
    long_text = text * (REDACTION_LENGTH // max(1, len(text))) if text else ""
    for sample in (text, long_text):
        clean = redact(sample)
        if any(m["info"] != MASK for m in _USERINFO.finditer(clean)):
            raise AssertionError(f"user-info left in {clean[:200]!r}")
        if redact(clean) != clean:
            raise AssertionError(f"masking is not idempotent on {sample[:200]!r}")


def request_key(data: bytes) -> None:
    """server.paths.parse_request → storage key: whatever a client sends, the key an
    accepted request maps to is a valid storage key (``storage.keys.check_key``), never
    longer than a file name allows per element, and the escaped request path itself (the hot
    cache and the file:// layout rely on that)."""
    from gomodproxy.ports.keys import artifact_key, check_key
    from gomodproxy.service.requests import parse_request

    text = "/" + data.decode("utf-8", "surrogateescape")
    try:
        req = parse_request(text)
    except (InvalidInput, NotFound):
        return
    key = artifact_key(req.kind, req.path, req.version)
    check_key(key)  # raises InvalidInput: a bug here, since the request was accepted
    if req.kind != "query" and key != text[1:]:
        raise AssertionError(f"{text!r} maps to the key {key!r}")


def gomod(data: bytes) -> None:
    """gomod.modfile.parse_gomod: go.mod files from upstreams and repositories."""
    from gomodproxy.gomod.modfile import parse_gomod

    for strict in (False, True):
        try:
            parse_gomod(data, strict=strict)
        except InvalidInput:
            pass


def zip_check(data: bytes) -> None:
    """ziplimits.check_entry_count, zipfiles.check_zip and hash_zip: module zips from
    upstreams."""
    from gomodproxy.localfs.zipfiles import check_zip, hash_zip
    from gomodproxy.localfs.ziplimits import check_entry_count

    fd, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            check_entry_count(path)
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
    "request_key": request_key,
    "redaction": redaction,
    "gomod": gomod,
    "zip_check": zip_check,
    "meta_tags": meta_tags,
    "note": note,
    "tile": tile,
}
