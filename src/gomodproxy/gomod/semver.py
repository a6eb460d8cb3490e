"""Go semantic versions, as in golang.org/x/mod/semver.

A version is ``vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]``: the ``v`` is required, numbers
have no leading zeros, ``vMAJOR`` and ``vMAJOR.MINOR`` are shorthands for ``.0.0`` and ``.0``
(without pre-release or build). Every function accepts any string: an invalid version is not an
error, it is "" for the accessors and lower than every valid version for :func:`compare`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cmp_to_key, lru_cache
from typing import NamedTuple

from gomodproxy.gomod._decimal import compare_int, cut_int

__all__ = [
    "build",
    "canonical",
    "compare",
    "is_valid",
    "major",
    "major_minor",
    "max_version",
    "prerelease",
    "sort_versions",
]


class _Parsed(NamedTuple):
    major: str
    minor: str
    patch: str
    short: str
    prerelease: str
    build: str


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _is_ident_char(c: str) -> bool:
    return "A" <= c <= "Z" or "a" <= c <= "z" or "0" <= c <= "9" or c == "-"


def _is_bad_num(v: str) -> bool:
    # An all-digit identifier with a leading zero, such as "01".
    return len(v) > 1 and v[0] == "0" and all(_is_digit(c) for c in v)


def _is_num(v: str) -> bool:
    return all(_is_digit(c) for c in v)


def _parse_prerelease(v: str) -> tuple[str, str] | None:
    # v starts with "-": dot-separated non-empty identifiers over [0-9A-Za-z-], numeric ones
    # without leading zeros, up to a "+" or the end.
    i = start = 1
    while i < len(v) and v[i] != "+":
        c = v[i]
        if c == ".":
            if start == i or _is_bad_num(v[start:i]):
                return None
            start = i + 1
        elif not _is_ident_char(c):
            return None
        i += 1
    if start == i or _is_bad_num(v[start:i]):
        return None
    return v[:i], v[i:]


def _parse_build(v: str) -> str | None:
    # v starts with "+" and must be entirely build metadata.
    i = start = 1
    while i < len(v):
        c = v[i]
        if c == ".":
            if start == i:
                return None
            start = i + 1
        elif not _is_ident_char(c):
            return None
        i += 1
    if start == i:
        return None
    return v


@lru_cache(maxsize=8192)
def _parse(v: str) -> _Parsed | None:
    if not v or v[0] != "v":
        return None
    r = cut_int(v[1:])
    if r is None:
        return None
    maj, v = r
    if not v:
        return _Parsed(maj, "0", "0", ".0.0", "", "")
    if v[0] != ".":
        return None
    r = cut_int(v[1:])
    if r is None:
        return None
    minor, v = r
    if not v:
        return _Parsed(maj, minor, "0", ".0", "", "")
    if v[0] != ".":
        return None
    r = cut_int(v[1:])
    if r is None:
        return None
    patch, v = r
    pre = ""
    if v and v[0] == "-":
        r = _parse_prerelease(v)
        if r is None:
            return None
        pre, v = r
    bld = ""
    if v and v[0] == "+":
        b = _parse_build(v)
        if b is None:
            return None
        bld, v = b, ""
    if v:
        return None
    return _Parsed(maj, minor, patch, "", pre, bld)


def is_valid(v: str) -> bool:
    """Report whether ``v`` is a valid semantic version string."""
    return _parse(v) is not None


def canonical(v: str) -> str:
    """Return the canonical form of ``v``: missing ``.MINOR``/``.PATCH`` filled in, build
    metadata dropped; "" when ``v`` is invalid."""
    p = _parse(v)
    if p is None:
        return ""
    if p.build:
        return v[: len(v) - len(p.build)]
    if p.short:
        return v + p.short
    return v


def major(v: str) -> str:
    """Return the major version prefix (``v2`` for ``v2.1.0``), or "" when ``v`` is invalid."""
    p = _parse(v)
    if p is None:
        return ""
    return v[: 1 + len(p.major)]


def major_minor(v: str) -> str:
    """Return the ``vMAJOR.MINOR`` prefix (``v2.1`` for ``v2.1.0``), or "" when invalid."""
    p = _parse(v)
    if p is None:
        return ""
    i = 1 + len(p.major)
    j = i + 1 + len(p.minor)
    if j <= len(v) and v[i] == "." and v[i + 1 : j] == p.minor:
        return v[:j]
    return v[:i] + "." + p.minor


def prerelease(v: str) -> str:
    """Return the pre-release suffix with its dash (``-pre`` for ``v2.1.0-pre+meta``)."""
    p = _parse(v)
    return "" if p is None else p.prerelease


def build(v: str) -> str:
    """Return the build suffix with its plus (``+meta`` for ``v2.1.0+meta``)."""
    p = _parse(v)
    return "" if p is None else p.build


def _compare_prerelease(x: str, y: str) -> int:
    if x == y:
        return 0
    if not x:
        return 1
    if not y:
        return -1
    # Both start with "-"; compare the dot-separated identifiers left to right.
    xs = x[1:].split(".")
    ys = y[1:].split(".")
    for dx, dy in zip(xs, ys, strict=False):
        if dx == dy:
            continue
        ix = _is_num(dx)
        iy = _is_num(dy)
        if ix != iy:
            return -1 if ix else 1
        if ix and len(dx) != len(dy):
            return -1 if len(dx) < len(dy) else 1
        return -1 if dx < dy else 1
    return -1 if len(xs) < len(ys) else 1


def compare(v: str, w: str) -> int:
    """Compare two versions by semantic-version precedence: -1, 0 or +1.

    Invalid versions are lower than every valid one and equal to each other; build metadata
    is ignored.
    """
    pv = _parse(v)
    pw = _parse(w)
    if pv is None:
        return 0 if pw is None else -1
    if pw is None:
        return 1
    return (
        compare_int(pv.major, pw.major)
        or compare_int(pv.minor, pw.minor)
        or compare_int(pv.patch, pw.patch)
        or _compare_prerelease(pv.prerelease, pw.prerelease)
    )


def max_version(v: str, w: str) -> str:
    """Canonicalize both versions and return the greater one (semver.Max); ``w`` on a tie."""
    v = canonical(v)
    w = canonical(w)
    return v if compare(v, w) > 0 else w


def _compare_for_sort(a: str, b: str) -> int:
    c = compare(a, b)
    if c:
        return c
    return -1 if a < b else (1 if a > b else 0)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Return the versions sorted by :func:`compare`, ties broken by plain string order
    (semver.Sort): ``v1.0.0`` before ``v1.0.0+meta``, invalid strings first."""
    return sorted(versions, key=cmp_to_key(_compare_for_sort))
