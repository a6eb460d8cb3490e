"""Generators of Go module inputs, shared by the property and differential tests.

Each generator is written once against :class:`Draw`, a four-method source of choices, and
is offered two ways:

- as a Hypothesis strategy (``module_paths()``, ``versions()``, ...) for property tests, which
  shrink through the same choices;
- as a fast deterministic batch (``batch(module_path, n, seed)``) over ``random.Random`` for
  the differential tests, which send thousands of inputs to the Go oracle in one call.

The inputs mix well-formed values, near misses (one rule broken) and noise, so the accepting
and every rejecting branch get exercised:

- :func:`module_path`: paths with case, dots, tildes, slashes, ``+``, Windows names, ``/vN``
  and gopkg.in ``.vN`` suffixes, Unicode letters (some new in Unicode 15) and non-letters;
- :func:`escaped_path`: ``!``-escaped forms, valid and broken;
- :func:`version`: semantic versions with shorthands, pre-release and build, leading zeros,
  pseudo-versions, ``+incompatible``, garbage;
- :func:`pseudo_version`: the three forms and near misses (bad times, odd hashes, ``-0.``);
- :func:`pattern_list` / :func:`glob_target`: GOPRIVATE-style lists of ``path.Match`` globs
  with classes, escapes, spaces and empty entries, and paths to match them against;
- :func:`commit_time`: aware datetimes in any whole-minute offset.

Strings never contain surrogates, which JSON cannot carry to the Go oracle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol, TypeVar

from hypothesis import strategies as st

__all__ = [
    "PATH_CHARS",
    "Draw",
    "batch",
    "commit_time",
    "commit_times",
    "escaped_path",
    "escaped_paths",
    "glob_and_name",
    "glob_target",
    "glob_targets",
    "module_path",
    "module_paths",
    "pattern_list",
    "pattern_lists",
    "pseudo_version",
    "pseudo_versions",
    "strategy",
    "version",
    "versions",
]

T = TypeVar("T")


class Draw(Protocol):
    """The choices a generator may make."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""

    def pick(self, options: Sequence[str]) -> str:
        """One of ``options``."""

    def text(self, alphabet: str, max_size: int) -> str:
        """A string of up to ``max_size`` characters of ``alphabet``."""

    def any_text(self, max_size: int) -> str:
        """A string of up to ``max_size`` arbitrary code points (no surrogates)."""


class _RandomDraw:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(options)

    def text(self, alphabet: str, max_size: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, max_size)))

    def any_text(self, max_size: int) -> str:
        out = []
        for _ in range(self.rng.randint(0, max_size)):
            hi = self.rng.choice((0x7F, 0x7FF, 0xFFFF, 0x10FFFF))
            c = self.rng.randint(0, hi)
            out.append(chr(c) if not 0xD800 <= c <= 0xDFFF else "\ufffd")
        return "".join(out)


class _HypothesisDraw:
    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, options: Sequence[str]) -> str:
        return self.draw(st.sampled_from(options))

    def text(self, alphabet: str, max_size: int) -> str:
        return self.draw(st.text(alphabet=alphabet, max_size=max_size))

    def any_text(self, max_size: int) -> str:
        chars = st.characters(exclude_categories=("Cs",))
        return self.draw(st.text(alphabet=chars, max_size=max_size))


def strategy(gen: Callable[[Draw], T]) -> st.SearchStrategy[T]:
    """The Hypothesis strategy of a generator."""

    @st.composite
    def composite(draw: st.DrawFn) -> T:
        return gen(_HypothesisDraw(draw))

    return composite()


def batch(gen: Callable[[Draw], T], n: int, seed: int = 0) -> list[T]:
    """``n`` values of a generator, the same for the same seed."""
    d = _RandomDraw(random.Random(seed))
    return [gen(d) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# Paths.

# Characters that matter to path checks: the module set, the file-name extras, the refused
# punctuation, controls, letters new in Unicode 15 (U+11F04 KAWI, U+1E030 modifier, U+31350
# CJK ext H), a Kelvin sign, a long s, a soft hyphen, an emoji, an Arabic digit, a line
# separator, an unassigned code point, U+FFFD.
PATH_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "-._~+!/ #$%&()+,=@[]^{}'\"*<>?`|:\\;\t\n\x00\x7f"
    "\u00e9\u00c9\u00df\u212a\u017f\u00ad\U0001f600\u0661\u2028\u30a2\u4e2d"
    "\U00011f04\U0001e030\U00031350\u0378\ufffd"
)
_ASCII_ELEM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
_WINDOWS = ("con", "CON", "Aux", "nul", "prn", "com1", "COM9", "com0", "lpt1", "LPT9", "lpt0")
_FIRST = ("example.com", "rsc.io", "a.b", "github.com", "golang.org", "x.y", "gopkg.in")


def _elem(d: Draw) -> str:
    kind = d.integer(0, 9)
    if kind <= 4:
        return d.text(_ASCII_ELEM, 8) or "x"
    if kind == 5:
        return d.pick(_WINDOWS) + d.pick(("", ".go", ".txt", "x", "."))
    if kind == 6:
        # Windows short-name look-alikes: tildes and digits.
        return d.pick(("z~", "~", "a~1", "x~0y", "z09~09", "x~1.go", "~1~", "a~b~12"))
    if kind == 7:
        return d.pick((".", "..", "...", ".x", "x.", "x..y", "-x", "x+y", "x!y", "v2"))
    return d.text(PATH_CHARS.replace("/", ""), 6)


def module_path(d: Draw) -> str:
    """A module-path-like string: usually plausible, often broken in exactly one way."""
    kind = d.integer(0, 19)
    if kind == 0:
        return d.text(PATH_CHARS, 16)
    if kind == 1:
        return d.any_text(12)
    if kind == 2:
        # gopkg.in paths with .vN, -unstable and near misses.
        user = d.pick(("", "user/", "u-x/"))
        name = d.pick(("yaml", "check", "v", "", "a.b"))
        major = d.pick((".v0", ".v1", ".v2", ".v10", ".v01", ".v", "", ".V2", "v2"))
        tail = d.pick(("", "-unstable", "/sub", "-unstable/x", "x"))
        return f"gopkg.in/{user}{name}{major}{tail}"
    first = d.pick(_FIRST) if d.integer(0, 3) else d.text("abcxyzAB019-._~+é/", 10)
    elems = [_elem(d) for _ in range(d.integer(0, 4))]
    path = "/".join([first, *elems])
    suffix = d.integer(0, 6)
    if suffix == 0:
        path += d.pick(("/v0", "/v1", "/v2", "/v10", "/v01", "/v2.0", "/v", "/v2.", "/V2"))
    elif suffix == 1:
        path += d.pick(("/", "//x", "/.", "~1", "."))
    return path


def escaped_path(d: Draw) -> str:
    """An escaped module path or version: ``!`` before lower-case letters, or broken escapes."""
    raw = module_path(d) if d.integer(0, 3) else version(d)
    out = "".join("!" + c.lower() if "A" <= c <= "Z" else c for c in raw)
    if d.integer(0, 4) == 0:
        i = d.integer(0, len(out))
        out = out[:i] + d.pick(("!", "!!", "!A", "!1", "A", "é", "!é")) + out[i:]
    return out


# ---------------------------------------------------------------------------------------------
# Versions.

_NUMS = ("0", "1", "2", "9", "10", "123", "99999999999999999999")
_BAD_NUMS = ("01", "00", "", "x")
_IDENTS = ("alpha", "beta", "rc", "0", "1", "11", "x-y", "-", "A", "pre", "0a", "9-")
_BAD_IDENTS = ("", "01", "é", "a_b")


def _num(d: Draw) -> str:
    return d.pick(_BAD_NUMS) if d.integer(0, 9) == 0 else d.pick(_NUMS)


def _core(d: Draw) -> str:
    v = d.pick(("", "V", "w")) if d.integer(0, 14) == 0 else "v"
    v += _num(d)
    for _ in range(int(d.pick("0122223"))):  # mostly vX.Y.Z; shorthands and one part too many
        v += "." + _num(d)
    return v


def _idents(d: Draw, most: int) -> str:
    def one() -> str:
        return d.pick(_BAD_IDENTS) if d.integer(0, 14) == 0 else d.pick(_IDENTS)

    return ".".join(one() for _ in range(d.integer(1, most)))


def version(d: Draw) -> str:
    """A version string: valid semver, shorthands, pseudo-versions, +incompatible, near misses
    and noise."""
    kind = d.integer(0, 9)
    if kind == 0:
        return d.any_text(12)
    if kind == 1:
        return pseudo_version(d)
    if kind == 2:
        return d.text("v0123456789.-+abAZ_", 14)
    v = _core(d)
    if d.integer(0, 1):
        v += "-" + _idents(d, 3)
    b = d.integer(0, 4)
    if b == 0:
        v += "+incompatible"
    elif b == 1:
        v += "+" + _idents(d, 2)
    return v


_HEX = "0123456789abcdef"
_DIGITS = "0123456789"


def pseudo_version(d: Draw) -> str:
    """A pseudo-version of any of the three forms, or a near miss (bad time, odd hash, base
    patch 0 with ``-0.``, build metadata without a base)."""
    major = d.pick(("v0", "v1", "v2", "v10", "v01"))
    k = d.integer(0, 3)
    if k == 0:
        ts = d.pick(("20060102150405", "00010101000000", "20231301000000", "20230229000000"))
    elif k == 1:
        ts = d.text(_DIGITS, 15).rjust(d.integer(12, 15), "0")
    else:
        ts = (
            f"{d.integer(0, 9999):04d}{d.integer(0, 13):02d}{d.integer(0, 32):02d}"
            f"{d.integer(0, 24):02d}{d.integer(0, 60):02d}{d.integer(0, 60):02d}"
        )
    rev = d.pick(("abcdef123456", "000000000000", "ABC", "a_b", "")) if k == 3 else ""
    rev = rev or d.text(_HEX, 40) or "0"
    form = d.integer(0, 3)
    if form == 0:
        v = f"{major}.0.0-{ts}-{rev}"
    elif form == 1:
        v = f"{major}.{_num(d)}.{_num(d)}-0.{ts}-{rev}"
    elif form == 2:
        v = f"{major}.{_num(d)}.{_num(d)}-{_idents(d, 2)}.0.{ts}-{rev}"
    else:
        v = f"{major}.{_num(d)}.{_num(d)}-{d.text('0.-a', 4)}{ts}-{rev}"
    b = d.integer(0, 3)
    if b == 0:
        v += "+incompatible"
    elif b == 1:
        v += "+" + _idents(d, 1)
    return v


def commit_time(d: Draw) -> datetime:
    """An aware commit time in UTC or a whole-minute offset, between the years 1 and 9999."""
    base = datetime(1, 1, 2, tzinfo=UTC)
    span = int((datetime(9999, 12, 30, tzinfo=UTC) - base).total_seconds())
    recent = d.integer(0, 1)
    lo = int((datetime(1990, 1, 1, tzinfo=UTC) - base).total_seconds()) if recent else 0
    t = base + timedelta(seconds=d.integer(lo, span))
    if d.integer(0, 2) == 0:
        return t
    return t.astimezone(timezone(timedelta(minutes=d.integer(-14 * 60, 14 * 60))))


# ---------------------------------------------------------------------------------------------
# Glob lists.

_GLOB_CHARS = "abc.*?[]^-\\/ ,é"
_GLOB_PIECES = ("a", "b.c", "*", "?", "[a-c]", "[^b]", "\\*", "[", "x*y", "é", "[]a]", "[\\]]")


def _glob(d: Draw) -> str:
    kind = d.integer(0, 4)
    if kind == 0:
        return d.text(_GLOB_CHARS, 8)
    if kind == 1:
        return d.pick(("*", "*.io", "rsc.io", "rsc.io/", "*/quote", "*/*/*", "*quo*", "[a-c]*"))
    parts = [d.pick(_GLOB_PIECES) for _ in range(d.integer(1, 4))]
    return "/".join(parts) + d.pick(("", "", "/", " "))


def pattern_list(d: Draw) -> str:
    """A GOPRIVATE-style comma-separated list of globs, with spaces and empty entries."""
    out = ""
    for _ in range(d.integer(0, 4)):
        out += _glob(d) + d.pick((",", ",", ", ", ",,"))
    return out.rstrip(",") + d.pick(("", "", ","))


_PIECE_NAMES = {
    "*": ("", "x", "ab.c", "é"),
    "?": ("a", "é", "?"),
    "[a-c]": ("a", "b", "c", "d"),
    "[^b]": ("a", "b", "é"),
    "\\*": ("*", "x"),
    "[": ("[",),
    "x*y": ("xy", "x-y", "xé/y"),
    "[]a]": ("]", "a", "b"),
    "[\\]]": ("]", "\\"),
}


def glob_and_name(d: Draw) -> tuple[str, str]:
    """A path.Match pattern and a name built to match it, piece by piece (sometimes not)."""
    pattern: list[str] = []
    name: list[str] = []
    for i in range(d.integer(1, 5)):
        if i:
            pattern.append("/")
            name.append(d.pick(("/", "/", "/", "x")))
        piece = d.pick(_GLOB_PIECES)
        pattern.append(piece)
        name.append(d.pick(_PIECE_NAMES.get(piece, (piece,))))
    return "".join(pattern), "".join(name)


def glob_target(d: Draw) -> str:
    """A module path to match pattern lists against."""
    if d.integer(0, 3) == 0:
        return d.text("abc.?*[]/é ", 10)
    if d.integer(0, 1):
        pieces = (*_GLOB_PIECES[:2], "c", "rsc.io", "quote", "v3")
        return "/".join(d.pick(pieces) for _ in range(4))
    return module_path(d)


def module_paths() -> st.SearchStrategy[str]:
    """Strategy of :func:`module_path`."""
    return strategy(module_path)


def escaped_paths() -> st.SearchStrategy[str]:
    """Strategy of :func:`escaped_path`."""
    return strategy(escaped_path)


def versions() -> st.SearchStrategy[str]:
    """Strategy of :func:`version`."""
    return strategy(version)


def pseudo_versions() -> st.SearchStrategy[str]:
    """Strategy of :func:`pseudo_version`."""
    return strategy(pseudo_version)


def pattern_lists() -> st.SearchStrategy[str]:
    """Strategy of :func:`pattern_list`."""
    return strategy(pattern_list)


def glob_targets() -> st.SearchStrategy[str]:
    """Strategy of :func:`glob_target`."""
    return strategy(glob_target)


def commit_times() -> st.SearchStrategy[datetime]:
    """Strategy of :func:`commit_time`."""
    return strategy(commit_time)
