"""Parse a GOPROXY request path into what is asked for (go.dev/ref/mod#goproxy-protocol).

The ASGI server has already percent-decoded the path (``%21`` → ``!``; ``+`` stays ``+``).
What remains is ``/<escaped module>/@v/list``, ``/<escaped module>/@v/<escaped version>.info``
(``.mod``, ``.zip``) or ``/<escaped module>/@latest``.

Statuses: a path that is not of that shape, or whose escaping is broken (an upper-case letter,
a ``!`` not followed by a lower-case letter) gets 400: the go command never sends one. A
well-escaped path that is not a valid module path gets 404 ("not found: ..."), as the go
command probes path prefixes of import paths and expects 404/410 for those that are not
modules. A ``.mod`` or ``.zip`` of a non-canonical version gets 400; of a canonical version that
does not fit the path's major version (``v2.0.0`` of an unversioned path), 404.

Bounds come first, before any parsing, escaping or masking of the text: a request path
longer than ``MAX_KEY_BYTES`` (4096) or with an element (a module path element, or the
version's file name) longer than ``MAX_ELEMENT_BYTES`` (255) is 404. No module can have
such a path: the go command keeps every module and version in its module cache under
exactly these names. So a long URL costs one length check, never a storage call (which
would fail with ENAMETOOLONG, a storage fault) nor a scan of the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.errors import InvalidInput, NotFound
from gomodproxy.gomod import module, semver
from gomodproxy.ports.keys import MAX_ELEMENT_BYTES, MAX_KEY_BYTES

KINDS = ("info", "mod", "zip")


@dataclass(frozen=True)
class ModRequest:
    """A parsed protocol request. ``kind`` is list, latest, info, mod, zip or query."""

    kind: str
    path: str
    version: str = ""


class BadRequest(InvalidInput):
    """The request path is malformed (400)."""


def _bad_escaping(escaped: str) -> bool:
    if not escaped.isascii():
        return True
    prev_bang = False
    for c in escaped:
        if prev_bang:
            if not "a" <= c <= "z":
                return True
            prev_bang = False
        elif c == "!":
            prev_bang = True
        elif "A" <= c <= "Z":
            return True
    return prev_bang


def _module(escaped: str) -> str:
    if not escaped or _bad_escaping(escaped):
        raise BadRequest(f"invalid escaped module path {escaped!r}")
    try:
        return module.unescape_path(escaped)
    except InvalidInput as exc:
        raise NotFound(f"not found: {exc}") from None


#: The longest file name a version makes in storage: ``<escaped version>.ziphash``.
_LONGEST_EXT = len(".ziphash")


def check_bounds(path: str) -> None:
    """Refuse a path no module version can have, in time linear in its length.

    Raises:
        NotFound: longer than ``MAX_KEY_BYTES`` bytes, or an element over
            ``MAX_ELEMENT_BYTES`` (the version's element counted with ``.ziphash``).
    """
    size = len(path) if path.isascii() else len(path.encode("utf-8", "surrogateescape"))
    if size > MAX_KEY_BYTES:
        raise NotFound(f"not found: request path of {size} bytes is longer than {MAX_KEY_BYTES}")
    head, sep, tail = path.rpartition("/@v/")
    elements = [*head.split("/"), tail] if sep else path.split("/")
    if sep:
        elements[-1] = tail.rpartition(".")[0] + "." * _LONGEST_EXT
    for elem in elements:
        if len(elem.encode("utf-8", "surrogateescape")) > MAX_ELEMENT_BYTES:
            raise NotFound(
                f"not found: a path element (or a version's file name) is longer than "
                f"{MAX_ELEMENT_BYTES} bytes"
            )


def parse_request(path: str) -> ModRequest:
    """Parse a decoded request path.

    Raises:
        BadRequest: malformed (400).
        NotFound: well-formed but cannot name an existing module version (404), or longer
            than any module version's path can be (``check_bounds``).
    """
    check_bounds(path)
    if path.endswith("/@latest"):
        return ModRequest("latest", _module(path[1:-8]))
    head, sep, tail = path.rpartition("/@v/")
    if not sep or not head.startswith("/"):
        raise BadRequest(
            f"{path!r} is not a module proxy path (/<module>/@v/... or /<module>/@latest)"
        )
    mod_path = _module(head[1:])
    if tail == "list":
        return ModRequest("list", mod_path)
    escaped_version, dot, ext = tail.rpartition(".")
    if not dot or ext not in KINDS or not escaped_version or "/" in escaped_version:
        raise BadRequest(f"{path!r}: expected @v/list or @v/<version>.info, .mod or .zip")
    if _bad_escaping(escaped_version):
        raise BadRequest(f"invalid escaped version {escaped_version!r}")
    try:
        version = module.unescape_version(escaped_version)
    except InvalidInput as exc:
        raise BadRequest(str(exc)) from None
    canonical = semver.is_valid(version) and module.canonical_version(version) == version
    if canonical:
        try:
            module.check(mod_path, version)
        except InvalidInput as exc:
            if ext == "info":
                return ModRequest("query", mod_path, version)
            raise NotFound(f"not found: {exc}") from None
        return ModRequest(ext, mod_path, version)
    if ext == "info":
        return ModRequest("query", mod_path, version)
    raise BadRequest(f"{mod_path}@{version}: invalid version: not a canonical version")
