"""h1: hashes over file sets, as golang.org/x/mod/sumdb/dirhash computes them (Hash1).

The hash is ``h1:`` + base64 (standard, padded) of the SHA-256 of a summary that has one line
per file, in byte order of the names: the lowercase hex SHA-256 of the content, two spaces,
the name, a newline. A module zip is hashed over its full entry names (``path@version/...``),
a go.mod over the single name ``go.mod``.

Callers supply the bytes: :func:`hash1` takes an ``opener(name)`` that returns the content as an
iterable of chunks, so a zip adapter can stream a 400 MiB file without holding it;
:func:`hash1_bytes` is the shortcut for content already in memory. Names are ``str``; a name
that stands for bytes that are not UTF-8 carries them as surrogate escapes (``os.fsdecode``)
and is hashed as those bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping

from gomodproxy.errors import InvalidInput

__all__ = ["EMPTY_HASH", "gomod_hash", "hash1", "hash1_bytes", "hash1_digests", "name_bytes"]

#: Hash1 of an empty file set (SHA-256 of the empty summary).
EMPTY_HASH = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def name_bytes(name: str) -> bytes:
    """Return the bytes Go sees for ``name`` (UTF-8, surrogate escapes back to raw bytes)."""
    return name.encode("utf-8", "surrogateescape")


def hash1(names: Iterable[str], opener: Callable[[str], Iterable[bytes]]) -> str:
    """Return the h1: hash of the files ``names``, reading each through ``opener(name)``.

    A name listed twice is hashed twice, as Go does. Errors raised by ``opener`` or while
    iterating its chunks propagate unchanged.

    Raises:
        InvalidInput: a name contains a newline.
    """
    summary = hashlib.sha256()
    for name in sorted(names, key=name_bytes):
        _check_name(name)
        digest = hashlib.sha256()
        for chunk in opener(name):
            digest.update(chunk)
        summary.update(_line(name, digest.hexdigest()))
    return _h1(summary)


def hash1_digests(digests: Iterable[tuple[str, str]]) -> str:
    """Return the h1: hash of files given as ``(name, hex SHA-256 of the content)`` pairs.

    For writers that hash each file while they write it, so nothing is read twice.

    Raises:
        InvalidInput: a name contains a newline.
    """
    summary = hashlib.sha256()
    for name, hexdigest in sorted(digests, key=lambda pair: name_bytes(pair[0])):
        _check_name(name)
        summary.update(_line(name, hexdigest))
    return _h1(summary)


def _check_name(name: str) -> None:
    if "\n" in name:
        raise InvalidInput("dirhash: filenames with newlines are not supported")


def _line(name: str, hexdigest: str) -> bytes:
    return hexdigest.encode() + b"  " + name_bytes(name) + b"\n"


def _h1(summary: hashlib._Hash) -> str:
    return "h1:" + base64.b64encode(summary.digest()).decode()


def hash1_bytes(files: Mapping[str, bytes]) -> str:
    """Return the h1: hash of the in-memory file set ``files`` (name -> content).

    Raises:
        InvalidInput: a name contains a newline.
    """
    return hash1(files, lambda name: (files[name],))


def gomod_hash(data: bytes) -> str:
    """Return the go.sum hash of a go.mod file (the ``<path> <version>/go.mod h1:...`` value)."""
    return hash1_bytes({"go.mod": data})
