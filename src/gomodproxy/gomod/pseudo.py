"""Pseudo-versions, as in golang.org/x/mod/module (pseudo.go).

A pseudo-version names an untagged commit and sorts it among tagged versions::

    vX.0.0-yyyymmddhhmmss-abcdef123456              no earlier tag of major X
    vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdef123456        after release vX.Y.Z
    vX.Y.Z-pre.0.yyyymmddhhmmss-abcdef123456        after pre-release vX.Y.Z-pre

Forms 2 and 3 keep the base's build suffix (``+incompatible``). The timestamp is the commit
time in UTC; the revision is the 12-hex-digit short commit hash.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from gomodproxy.gomod import semver
from gomodproxy.gomod._gostr import quote
from gomodproxy.gomod.module import InvalidVersionError

__all__ = [
    "TIMESTAMP_FORMAT",
    "is_pseudo",
    "is_pseudo_version",
    "is_zero_pseudo",
    "is_zero_pseudo_version",
    "parse_pseudo_version",
    "pseudo_version",
    "pseudo_version_base",
    "pseudo_version_rev",
    "pseudo_version_time",
    "zero_pseudo_version",
]

#: The timestamp layout, in Go's reference-time notation (yyyymmddhhmmss).
TIMESTAMP_FORMAT = "20060102150405"

_PSEUDO_RE = re.compile(
    r"v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?",
    re.ASCII | re.DOTALL,
)
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def _format_time(t: datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"


def _inc_decimal(decimal: str) -> str:
    # "199" -> "200", "99" -> "100": decimal string arithmetic, no overflow.
    digits = list(decimal)
    i = len(digits) - 1
    while i >= 0 and digits[i] == "9":
        digits[i] = "0"
        i -= 1
    if i >= 0:
        digits[i] = chr(ord(digits[i]) + 1)
    else:
        digits[0] = "1"
        digits.append("0")
    return "".join(digits)


def _dec_decimal(decimal: str) -> str:
    # "200" -> "199", "10" -> "9"; "" when the decimal is all zeros.
    digits = list(decimal)
    i = len(digits) - 1
    while i >= 0 and digits[i] == "0":
        digits[i] = "9"
        i -= 1
    if i < 0:
        return ""
    if i == 0 and digits[i] == "1" and len(digits) > 1:
        digits = digits[1:]
    else:
        digits[i] = chr(ord(digits[i]) - 1)
    return "".join(digits)


def pseudo_version(major: str, older: str, t: datetime, rev: str) -> str:
    """Return the pseudo-version for a commit (module.PseudoVersion).

    Args:
        major: the major version (``v2``); "" means ``v0``.
        older: the closest older tag, "" for none (form 1), a release (form 2) or a
            pre-release (form 3); its build suffix is kept.
        t: the commit time; converted to UTC (a naive datetime is taken as UTC).
        rev: the revision, usually the 12-hex-digit short commit hash.
    """
    if major == "":
        major = "v0"
    segment = f"{_format_time(t)}-{rev}"
    build = semver.build(older)
    older = semver.canonical(older)
    if older == "":
        return f"{major}.0.0-{segment}"
    if semver.prerelease(older):
        return f"{older}.0.{segment}{build}"
    i = older.rfind(".") + 1
    return f"{older[:i]}{_inc_decimal(older[i:])}-0.{segment}{build}"


def zero_pseudo_version(major: str) -> str:
    """Return the placeholder ``vX.0.0-00010101000000-000000000000`` (ZeroPseudoVersion)."""
    return pseudo_version(major, "", _ZERO_TIME, "000000000000")


def is_pseudo_version(v: str) -> bool:
    """Report whether ``v`` has the syntax of a pseudo-version (module.IsPseudoVersion)."""
    return v.count("-") >= 2 and semver.is_valid(v) and _PSEUDO_RE.fullmatch(v) is not None


def is_zero_pseudo_version(v: str) -> bool:
    """Report whether ``v`` is a zero pseudo-version (module.IsZeroPseudoVersion)."""
    return v == zero_pseudo_version(semver.major(v))


is_pseudo = is_pseudo_version
is_zero_pseudo = is_zero_pseudo_version


def parse_pseudo_version(v: str) -> tuple[str, str, str, str]:
    """Split pseudo-version ``v`` into ``(base, timestamp, rev, build)``.

    ``base`` is ``vX.0.0`` for form 1, else the version up to the ``.0`` or ``-0`` before the
    timestamp (``vX.Y.Z-pre.0``, ``vX.Y.(Z+1)-0``).

    Raises:
        InvalidVersionError: ``pseudo-version "V" invalid: syntax error``.
    """
    if not is_pseudo_version(v):
        raise InvalidVersionError(v, "syntax error", pseudo=True)
    build = semver.build(v)
    v = v[: len(v) - len(build)]
    j = v.rfind("-")
    v, rev = v[:j], v[j + 1 :]
    i = v.rfind("-")
    j = v.rfind(".")
    if j > i:
        return v[:j], v[j + 1 :], rev, build
    return v[:i], v[i + 1 :], rev, build


def pseudo_version_time(v: str) -> datetime:
    """Return the timestamp of pseudo-version ``v`` as an aware UTC datetime.

    Go accepts the year 0000, which a Python datetime cannot hold: it is reported as a
    malformed time here.

    Raises:
        InvalidVersionError: ``v`` is not a pseudo-version, or ``malformed time "T"``.
    """
    _, ts, _, _ = parse_pseudo_version(v)
    try:
        return datetime(
            int(ts[0:4]),
            int(ts[4:6]),
            int(ts[6:8]),
            int(ts[8:10]),
            int(ts[10:12]),
            int(ts[12:14]),
            tzinfo=UTC,
        )
    except ValueError:
        raise InvalidVersionError(v, f"malformed time {quote(ts)}", pseudo=True) from None


def pseudo_version_rev(v: str) -> str:
    """Return the revision of pseudo-version ``v``.

    Raises:
        InvalidVersionError: ``v`` is not a pseudo-version.
    """
    return parse_pseudo_version(v)[2]


def pseudo_version_base(v: str) -> str:
    """Return the canonical version that pseudo-version ``v`` builds on; "" for form 1.

    Raises:
        InvalidVersionError: ``v`` is not a pseudo-version, is ``vX.0.0-…`` with build
            metadata, or is ``vX.Y.0-0.…`` (its base would have patch -1).
    """
    base, _, _, build = parse_pseudo_version(v)
    pre = semver.prerelease(base)
    if pre == "":
        if build:
            # vX.0.0-…+incompatible: no base tag, yet a build suffix that implies one.
            raise InvalidVersionError(
                v, f"lacks base version, but has build metadata {quote(build)}", pseudo=True
            )
        return ""
    if pre == "-0":
        base = base[: -len(pre)]
        i = base.rfind(".")
        patch = _dec_decimal(base[i + 1 :])
        if patch == "":
            raise InvalidVersionError(
                v, f"version before {base} would have negative patch number", pseudo=True
            )
        return base[: i + 1] + patch + build
    # vX.Y.Z-pre.0.… builds on vX.Y.Z-pre: drop the ".0".
    return base[: -len(".0")] + build
