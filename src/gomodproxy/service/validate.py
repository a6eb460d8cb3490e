"""What a fetched artifact must be before it is stored or served: the checks of the go command.

Each check raises ``UpstreamError`` naming the module (the source sent something unusable),
except ``check_and_hash_zip``, which raises ``InvalidInput`` (callers that fetched the zip
turn it into an upstream error; the bundle importer into a tampered-bundle error).
"""

from __future__ import annotations

import json
from pathlib import Path

from gomodproxy.errors import InvalidInput, UpstreamError
from gomodproxy.gomod import modfile, module, semver
from gomodproxy.gomod.modzip import MAX_ZIP_FILE
from gomodproxy.localfs import zipfiles, ziplimits

#: What the go command accepts at most (x/mod/zip).
MAX_ZIP_BYTES = MAX_ZIP_FILE

#: Bytes of a ``@v/list`` decoded and split at once: each C call (decode, splitlines) holds
#: the GIL, and in a worker thread a short call lets the event loop run in between.
_LIST_BLOCK = 64 << 10


def check_info(data: bytes, path: str, query: str | None) -> str:
    """The canonical Version of an .info body; checks it is one and matches ``query``."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        obj = None
    version = obj.get("Version") if isinstance(obj, dict) else None
    if not isinstance(version, str) or not semver.is_valid(version):
        raise UpstreamError(f"{path}: upstream sent an invalid .info (no valid Version)")
    if module.canonical_version(version) != version:
        raise UpstreamError(f"{path}: upstream .info Version {version!r} is not canonical")
    if query is not None and version != query:
        raise UpstreamError(
            f"{path}: upstream returned info for version {version} instead of {query}"
        )
    t = obj.get("Time") if isinstance(obj, dict) else None
    if t is not None and not isinstance(t, str):
        raise UpstreamError(f"{path}: upstream .info has an invalid Time")
    return version


def check_mod(data: bytes, path: str, version: str) -> None:
    """A go.mod must declare ``path``, or (as the go command in direct mode checks with
    ``modfile.ModulePath``) a path with the same major version suffix."""
    declared = modfile.module_path(data)
    if not declared:
        raise UpstreamError(f"{path}@{version}: upstream go.mod has no module line")
    if declared == path:
        return
    if declared.lower() == path.lower():
        # The same path in another case: a case-insensitive origin answering for a path
        # that is not its own. Never useful (no replace directive needs it) and a way
        # around case-sensitive rules: refused.
        raise UpstreamError(
            f"{path}@{version}: upstream go.mod declares module {declared!r}, "
            "the requested path in another case"
        )
    # Only the major version suffix must agree: a fork may declare its original path, which
    # a replace directive needs; the go command accepts it there and rejects it elsewhere.
    try:
        _, want_major, _ = module.split_path_version(path)
        _, got_major, ok = module.split_path_version(declared)
    except InvalidInput:
        ok = False
    if not ok or got_major.lstrip("/.") != want_major.lstrip("/."):
        raise UpstreamError(f"{path}@{version}: upstream go.mod declares module {declared!r}")


def check_list(data: bytes, path: str) -> None:
    """A ``@v/list`` body: UTF-8 lines whose first field is a valid version."""
    start = 0
    while start < len(data):
        cut = data.find(b"\n", start + _LIST_BLOCK)
        end = len(data) if cut < 0 else cut + 1
        try:
            text = data[start:end].decode("utf-8")  # a character never spans a newline
        except UnicodeDecodeError:
            raise UpstreamError(f"{path}: upstream sent a @v/list that is not UTF-8") from None
        for line in text.splitlines():
            fields = line.split()
            if fields and not semver.is_valid(fields[0]):
                raise UpstreamError(f"{path}: upstream sent an invalid @v/list line {line[:80]!r}")
        start = end


def check_and_hash_zip(zip_path: Path, module_path: str, version: str, limit: int) -> str:
    """Check a module zip as the go command does (x/mod CheckZip) and return its h1 hash.

    Raises:
        InvalidInput: the zip is too large, unreadable or has an invalid entry.
    """
    size = zip_path.stat().st_size
    if size > limit:
        raise InvalidInput(f"module zip of {size} bytes exceeds the limit of {limit}")
    ziplimits.check_entry_count(zip_path)
    return zipfiles.check_and_hash_zip(zip_path, module_path, version)
