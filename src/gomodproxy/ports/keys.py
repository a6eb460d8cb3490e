"""Storage keys: the one place that says what a key may look like, so every backend agrees.

A key is the relative path of a ``file://`` GOPROXY tree (see ``ports/storage.py``). Besides
the rules there (``/`` separators, no leading ``/``, no ``.``/``..`` elements) no element may
start with a dot: module path elements, escaped versions, sumdb tile names and our ``_meta``
names never do, so backends can name their temporary files ``.tmp-...`` without any chance of
colliding with a real key, and skip dot names when listing.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.module import escape_path, escape_version, unescape_path, unescape_version

#: Longest key element in bytes: a file name (NAME_MAX) on every filesystem we store on, and
#: in the go command's module cache, so no servable module or version needs a longer one.
MAX_ELEMENT_BYTES = 255
#: Longest key in bytes (PATH_MAX); the go command's module cache could not hold a longer one.
MAX_KEY_BYTES = 4096

#: Prefix of the temporary names backends use while writing; never a valid key element.
TEMP_PREFIX = ".tmp-"

#: Control characters and the backslash; one regex scan, not a Python step per character
#: (every storage operation checks its key).
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x1f\\]")


def check_key(key: str) -> None:
    """Raise ``InvalidInput`` unless ``key`` is a valid storage key."""
    if not key:
        raise InvalidInput("storage key is empty")
    if key.startswith("/") or key.endswith("/"):
        raise InvalidInput(f"storage key {key!r} starts or ends with '/'")
    if len(key) > MAX_KEY_BYTES or len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES:
        raise InvalidInput(f"storage key of {len(key)} characters is longer than {MAX_KEY_BYTES}")
    if _FORBIDDEN_CHARS.search(key):
        raise InvalidInput(f"storage key {key!r} contains a control character or backslash")
    for elem in key.split("/"):
        if not elem:
            raise InvalidInput(f"storage key {key!r} has an empty path element")
        if elem.startswith("."):
            raise InvalidInput(f"storage key {key!r} has an element starting with '.'")
        if len(elem.encode("utf-8", "surrogateescape")) > MAX_ELEMENT_BYTES:
            raise InvalidInput(
                f"storage key element {elem[:40]!r}... is longer than {MAX_ELEMENT_BYTES} bytes"
            )


def artifact_key(kind: str, path: str, version: str = "") -> str:
    """The key (and escaped protocol path) of an artifact: ``list``, ``latest``, ``info``,
    ``mod``, ``zip``, or ``query`` (the ``.info`` of a non-canonical version).

    Raises:
        InvalidInput: the path or version cannot be escaped (upper-case-free ASCII rules).
    """
    epath = escape_path(path)
    if kind == "list":
        return f"{epath}/@v/list"
    if kind == "latest":
        return f"{epath}/@latest"
    ext = "info" if kind == "query" else kind
    return f"{epath}/@v/{escape_version(version)}.{ext}"


def version_key(path: str, version: str, ext: str) -> str:
    """The key of one of a version's files: ``ext`` is one of ``VERSION_EXTS``.

    Raises:
        InvalidInput: the path or version cannot be escaped.
    """
    if ext not in VERSION_EXTS:
        raise InvalidInput(f"no version file has the extension {ext!r}")
    return join_version_key(escape_path(path), escape_version(version), ext)


def join_version_key(escaped_path: str, escaped_version: str, ext: str) -> str:
    """``version_key`` from parts already escaped (the inverse of ``split_version_key``)."""
    return f"{escaped_path}/@v/{escaped_version}.{ext}"


def ziphash_key(zip_key: str) -> str:
    """The key of the h1 hash stored beside the zip at ``zip_key``."""
    return zip_key + "hash"


def versions_prefix(path: str) -> str:
    """The prefix every version file of module ``path`` starts with (lists them all).

    Raises:
        InvalidInput: the path cannot be escaped.
    """
    return f"{escape_path(path)}/@v/"


class VersionKey(NamedTuple):
    """A version file's key taken apart: the module path and version unescaped."""

    path: str
    version: str
    ext: str


def parse_version_key(key: str) -> VersionKey | None:
    """``<escaped path>/@v/<escaped version>.<ext>`` unescaped, or None for any other key
    (lists, ``@latest``, ``sumdb/...``, ``_meta/...``, or an element that does not unescape)."""
    split = split_version_key(key)
    if split is None:
        return None
    try:
        return VersionKey(unescape_path(split[0]), unescape_version(split[1]), split[2])
    except InvalidInput:
        return None


def module_of_key(key: str) -> str:
    """The module path of a version file, ``@v/list`` or ``@latest`` key, or "" for others."""
    if key.endswith("/@latest"):
        head = key[: -len("/@latest")]
    else:
        head, sep, _ = key.partition("/@v/")
        if not sep:
            return ""
    if not head:
        return ""
    try:
        return unescape_path(head)
    except InvalidInput:
        return ""


def check_prefix(prefix: str) -> None:
    """Raise ``InvalidInput`` unless ``prefix`` can start a valid key (``""`` lists everything)."""
    if not prefix:
        return
    # A prefix ending in "/" is the start of "<prefix>x"; check what is complete of it.
    check_key(prefix.rstrip("/") + "/x" if prefix.endswith("/") else prefix)


def split_version_key(key: str) -> tuple[str, str, str] | None:
    """Split ``<escaped path>/@v/<escaped version>.<ext>`` into its three parts, or None.

    ``ext`` is ``info``, ``mod``, ``zip`` or ``ziphash``; other keys (``list``, ``@latest``,
    ``sumdb/...``) give None.
    """
    head, sep, name = key.rpartition("/@v/")
    if not sep or not head:
        return None
    version, dot, ext = name.rpartition(".")
    if not dot or not version or ext not in VERSION_EXTS:
        return None
    return head, version, ext


#: File kinds stored per module version, in the order a version is made visible.
VERSION_EXTS = ("info", "mod", "zip", "ziphash")
