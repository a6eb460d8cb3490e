"""The manifest of an offline bundle: every file's storage key, size, SHA-256 and h1.

A bundle is a tar archive (zstd-compressed when written by ``export``) whose first member is
``manifest.json`` and whose other members are named by their storage keys: the GOPROXY tree
(``<escaped path>/@v/<version>.info|.mod|.zip``) and, when the checksum database travels with
it, ``sumdb/<name>/lookup/...`` and ``sumdb/<name>/tile/...``. ``h1`` is the go.sum hash of a
``.mod`` (hash of the go.mod alone) or ``.zip`` (hash of the module tree), empty otherwise.
Mutable answers (lists, ``@latest``) and internal state (``_meta/``) never travel: the
importing proxy derives lists from what it holds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from gomodproxy.errors import InvalidInput
from gomodproxy.ports.keys import check_key, split_version_key

__all__ = ["FORMAT", "MANIFEST_NAME", "Entry", "Manifest", "is_bundle_key"]

FORMAT = "gomodproxy-bundle/1"
MANIFEST_NAME = "manifest.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_H1 = re.compile(r"h1:[A-Za-z0-9+/]{43}=")


@dataclass(frozen=True)
class Entry:
    """One file of the bundle."""

    key: str
    size: int
    sha256: str
    h1: str = ""


def is_bundle_key(key: str) -> bool:
    """Whether a storage key may travel in a bundle (module files and sumdb data only)."""
    split = split_version_key(key)
    if split is not None:
        return split[2] in ("info", "mod", "zip")
    parts = key.split("/")
    return len(parts) >= 4 and parts[0] == "sumdb" and parts[2] in ("lookup", "tile")


@dataclass(frozen=True)
class Manifest:
    """All entries, keyed by storage key, and the checksum databases carried."""

    entries: dict[str, Entry]
    created: str = ""

    def to_json(self) -> bytes:
        files = [
            {"key": e.key, "size": e.size, "sha256": e.sha256, **({"h1": e.h1} if e.h1 else {})}
            for e in sorted(self.entries.values(), key=lambda e: e.key)
        ]
        doc = {"format": FORMAT, "created": self.created, "files": files}
        return json.dumps(doc, indent=1).encode() + b"\n"

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Parse and check a manifest.

        Raises:
            InvalidInput: not a manifest of this format, or an entry is malformed.
        """
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{MANIFEST_NAME} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else None
            raise InvalidInput(f"{MANIFEST_NAME}: format {got!r}, want {FORMAT!r}")
        files = doc.get("files")
        if not isinstance(files, list):
            raise InvalidInput(f"{MANIFEST_NAME}: files is not a list")
        entries: dict[str, Entry] = {}
        for i, item in enumerate(files):
            entry = _entry(item, i)
            if entry.key in entries:
                raise InvalidInput(f"{MANIFEST_NAME}: {entry.key} is listed twice")
            entries[entry.key] = entry
        created = doc.get("created", "")
        return cls(entries, created if isinstance(created, str) else "")


def _entry(item: object, i: int) -> Entry:
    where = f"{MANIFEST_NAME}: files[{i}]"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} is not an object")
    key, size, sha, h1 = item.get("key"), item.get("size"), item.get("sha256"), item.get("h1", "")
    if not isinstance(key, str):
        raise InvalidInput(f"{where}: key is not a string")
    try:
        check_key(key)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    if not is_bundle_key(key):
        raise InvalidInput(f"{where}: {key} is not a module file or checksum database data")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput(f"{where}: {key}: size is not a non-negative integer")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise InvalidInput(f"{where}: {key}: sha256 is not 64 lowercase hex digits")
    ext = key.rsplit(".", 1)[-1] if split_version_key(key) else ""
    if ext in ("mod", "zip"):
        if not isinstance(h1, str) or not _H1.fullmatch(h1):
            raise InvalidInput(f"{where}: {key}: h1 is missing or malformed")
    elif h1:
        raise InvalidInput(f"{where}: {key}: only .mod and .zip files carry an h1")
    return Entry(key, size, sha, h1 if isinstance(h1, str) else "")
