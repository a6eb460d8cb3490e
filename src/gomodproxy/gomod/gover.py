"""Go toolchain versions (``1.21``, ``1.21rc1``, ``1.21.0``), as cmd/go's internal/gover and
go/version compare them. These are not semantic versions: ``1.21 < 1.21rc1 < 1.21.0``, a
language version (``1.21``) has no patch, and before Go 1.21 a missing patch means ``.0``.
"""

from __future__ import annotations

from typing import NamedTuple

from gomodproxy.gomod._decimal import compare_int, cut_int

__all__ = ["Version", "compare", "from_toolchain", "is_lang", "is_valid", "lang", "parse"]


class Version(NamedTuple):
    """A parsed Go version; all fields are decimal strings or "" (kind: alpha, beta, rc)."""

    major: str = ""
    minor: str = ""
    patch: str = ""
    kind: str = ""
    pre: str = ""


_ZERO = Version()


def parse(x: str) -> Version:
    """Parse a Go version (``gover.Parse``); the zero Version when malformed."""
    cut = cut_int(x)
    if cut is None:
        return _ZERO
    major, x = cut
    if x == "":
        return Version(major, "0", "0")
    if x[0] != ".":
        return _ZERO
    cut = cut_int(x[1:])
    if cut is None:
        return _ZERO
    minor, x = cut
    if x == "":
        # Before Go 1.21 a missing patch is .0; from 1.21 on, 1.21 is the language version.
        return Version(major, minor, "0" if compare_int(minor, "21") < 0 else "")
    if x[0] == ".":
        cut = cut_int(x[1:])
        if cut is None or cut[1] != "":
            return _ZERO  # no prereleases of patch releases
        return Version(major, minor, cut[0])
    # x starts with neither a digit nor ".", so a prerelease kind of at least one letter
    # follows, or the version is malformed.
    i = 0
    while i < len(x) and not ("0" <= x[i] <= "9"):
        if not ("a" <= x[i] <= "z"):
            return _ZERO
        i += 1
    kind, x = x[:i], x[i:]
    if x == "":
        return Version(major, minor, "", kind)
    cut = cut_int(x)
    if cut is None or cut[1] != "":
        return _ZERO
    return Version(major, minor, "", kind, cut[0])


def is_valid(x: str) -> bool:
    """Report whether ``x`` is a Go version (without the ``go`` prefix)."""
    return parse(x) != _ZERO


def compare(x: str, y: str) -> int:
    """Compare two Go versions: -1, 0 or +1; invalid ones sort first and equal each other."""
    vx, vy = parse(x), parse(y)
    for a, b in ((vx.major, vy.major), (vx.minor, vy.minor), (vx.patch, vy.patch)):
        if c := compare_int(a, b):
            return c
    if vx.kind != vy.kind:  # "" < alpha < beta < rc
        return -1 if vx.kind < vy.kind else 1
    return compare_int(vx.pre, vy.pre)


def is_lang(x: str) -> bool:
    """Report whether ``x`` is a language version such as ``1.21`` (no patch, no rc)."""
    v = parse(x)
    return v != _ZERO and v.patch == "" and v.kind == "" and v.pre == ""


def lang(x: str) -> str:
    """The language version of ``x``: ``1.21.3`` -> ``1.21``, ``1.0`` -> ``1``; "" if invalid."""
    v = parse(x)
    if v.minor == "" or (v.major == "1" and v.minor == "0"):
        return v.major
    return v.major + "." + v.minor


def from_toolchain(name: str) -> str:
    """The Go version a toolchain name stands for (``go1.21.3-custom`` -> ``1.21.3``), or ""."""
    if "/" in name or "\\" in name or not name.startswith("go"):
        return ""
    v = name[2:]
    for i, c in enumerate(v):
        if c in " \t-":
            v = v[:i]
            break
    return v if is_valid(v) else ""
