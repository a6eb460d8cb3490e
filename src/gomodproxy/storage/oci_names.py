"""How storage keys map to OCI repositories and tags: reversible, and valid in any registry.

Layout under the repository prefix ``P`` of ``oci://HOST/P``:

- ``P/modules/<module repo>:<version tag>`` — one manifest per module version. Its layers are
  that version's ``.info``, ``.mod``, ``.zip`` and ``.ziphash``, each with its own media type
  (``MEDIA_TYPES``); its config blob names the module path and version in clear.
- ``P/keys:k<sha256 of the key>`` — one manifest per other key (``@v/list``, ``@latest``,
  ``sumdb/...``, ``_meta/...``) with the value as its only layer and the key in the config.

Module repo. OCI repository path components must match ``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*``.
Each element of the *escaped* module path (upper case already written as ``!x``, so ``!``,
``~`` and other characters may occur) is kept as it is when it already matches that grammar
with single separators only, and is otherwise written ``x__<base32 of its UTF-8>`` (lower case,
no padding). A kept element never contains ``__`` and a rewritten one always does, so decoding
is unambiguous. ``github.com/!azure/go-autorest`` → ``github.com/x__efqxu5lsmu/go-autorest``.

Version tag. Tags may be ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`` and may hold upper case, so the
*unescaped* version is used with ``+`` written as ``_`` (a version never contains ``_``):
``v2.0.0+incompatible`` → ``v2.0.0_incompatible``, ``v1.0.0-RC1`` → ``v1.0.0-RC1``.

A version key whose repository name would exceed 255 characters or whose version does not fit
a tag is stored like any other key, so the mapping is total; ``parse_version_key`` decides
deterministically which form a key uses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import module
from gomodproxy.ports.keys import join_version_key, split_version_key

MODULES = "modules"
KEYS = "keys"

_MEDIA = "application/vnd.gomodproxy"
#: Media type of each layer of a module version manifest, by file extension.
MEDIA_TYPES = {
    "info": f"{_MEDIA}.module.info.v1+json",
    "mod": f"{_MEDIA}.module.mod.v1",
    "zip": f"{_MEDIA}.module.zip.v1+zip",
    "ziphash": f"{_MEDIA}.module.ziphash.v1",
}
EXT_BY_MEDIA_TYPE = {v: k for k, v in MEDIA_TYPES.items()}
#: Media type of the config blob of a module version, and of a generic key.
VERSION_CONFIG_TYPE = f"{_MEDIA}.module.config.v1+json"
KEY_CONFIG_TYPE = f"{_MEDIA}.key.config.v1+json"
#: Media type of the single layer of a generic key.
KEY_LAYER_TYPE = f"{_MEDIA}.key.value.v1"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|-+)[a-z0-9]+)*")
_REPO_PREFIX = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_VERSION_FOR_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,127}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ENCODED = "x__"
MAX_REPO_NAME = 255


def is_repo_prefix(prefix: str) -> bool:
    """Whether ``prefix`` is a valid OCI repository name to put our repositories under."""
    return _REPO_PREFIX.fullmatch(prefix) is not None and len(prefix) < 200


def encode_element(elem: str) -> str:
    """One module path element as one OCI repository path component."""
    if _COMPONENT.fullmatch(elem):
        return elem
    b32 = base64.b32encode(elem.encode()).decode().rstrip("=").lower()
    return _ENCODED + b32


def decode_element(comp: str) -> str | None:
    """The module path element a component stands for, or None if it is not one of ours."""
    if "__" not in comp:
        return comp if _COMPONENT.fullmatch(comp) else None
    if not comp.startswith(_ENCODED):
        return None
    b32 = comp[len(_ENCODED) :].upper()
    try:
        return base64.b32decode(b32 + "=" * (-len(b32) % 8)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def encode_path(escaped_path: str) -> str:
    """The repository path (below ``modules/``) for an escaped module path."""
    return "/".join(encode_element(e) for e in escaped_path.split("/"))


def decode_path(repo_path: str) -> str | None:
    """The escaped module path of a repository path below ``modules/``, or None."""
    elems = [decode_element(c) for c in repo_path.split("/")]
    if any(e is None for e in elems):
        return None
    return "/".join(e for e in elems if e is not None)


def unescape_version(escaped: str) -> str | None:
    """``v1.0.0-!r!c1`` → ``v1.0.0-RC1`` (the go command's escaping), or None if invalid."""
    try:
        return module.unescape_version(escaped)
    except InvalidInput:
        return None


def escape_version(version: str) -> str | None:
    """``v1.0.0-RC1`` → ``v1.0.0-!r!c1``, or None if it is no valid version file name."""
    try:
        return module.escape_version(version)
    except InvalidInput:
        return None


def unescape_path(escaped: str) -> str | None:
    """``github.com/!azure/x`` → ``github.com/Azure/x``, or None if invalid."""
    try:
        return module.unescape_path(escaped)
    except InvalidInput:
        return None


def version_to_tag(version: str) -> str | None:
    """The tag of an unescaped version, or None when it cannot be one."""
    if "_" in version or not _VERSION_FOR_TAG.fullmatch(version):
        return None
    return version.replace("+", "_")


def tag_to_version(tag: str) -> str | None:
    """The unescaped version a version tag stands for, or None for other tags."""
    if not _TAG.fullmatch(tag):
        return None
    return tag.replace("_", "+")


@dataclass(frozen=True)
class VersionRef:
    """Where a module version file lives: repository, tag, and which layer."""

    repo: str
    tag: str
    escaped_path: str
    version: str
    ext: str


def parse_version_key(prefix: str, key: str) -> VersionRef | None:
    """The version manifest holding ``key``, or None when the key is stored as a generic key."""
    parts = split_version_key(key)
    if parts is None:
        return None
    escaped_path, escaped_version, ext = parts
    version = unescape_version(escaped_version)
    if version is None:
        return None
    tag = version_to_tag(version)
    if tag is None:
        return None
    repo = f"{prefix}/{MODULES}/{encode_path(escaped_path)}"
    if len(repo) > MAX_REPO_NAME:
        return None
    return VersionRef(repo, tag, escaped_path, version, ext)


def version_keys(prefix: str, repo: str, tag: str, exts: list[str]) -> list[str]:
    """The keys of the layers ``exts`` of manifest ``repo:tag`` (empty if it is not ours)."""
    head = f"{prefix}/{MODULES}/"
    if not repo.startswith(head):
        return []
    escaped_path = decode_path(repo[len(head) :])
    version = tag_to_version(tag)
    escaped_version = None if version is None else escape_version(version)
    if escaped_path is None or escaped_version is None:
        return []
    keys = [join_version_key(escaped_path, escaped_version, ext) for ext in exts]
    # Only keys that map back to this very manifest are ours (guards against foreign tags).
    refs = [(k, parse_version_key(prefix, k)) for k in keys]
    return [k for k, ref in refs if ref is not None and (ref.repo, ref.tag) == (repo, tag)]


def key_repo(prefix: str) -> str:
    """The repository holding every generic key."""
    return f"{prefix}/{KEYS}"


def key_tag(key: str) -> str:
    """The tag of a generic key: ``k`` and the hex SHA-256 of the key."""
    return "k" + hashlib.sha256(key.encode()).hexdigest()
