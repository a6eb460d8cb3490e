"""Module paths and versions, as in golang.org/x/mod/module.

Checks of module, import and file paths, the ``!``-escaping of paths and versions used by the
proxy protocol and the module cache, the major-version suffix rules (``/vN``, gopkg.in's
``.vN``) and ``+incompatible``. Error texts are Go's, byte for byte: the exception classes
mirror x/mod's error types and their ``str()`` is Go's ``Error()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from functools import cmp_to_key, lru_cache
from typing import NamedTuple

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import semver
from gomodproxy.gomod._gostr import is_letter, quote, quote_rune

__all__ = [
    "InvalidPathError",
    "InvalidVersionError",
    "ModuleError",
    "ModuleVersion",
    "can_be_incompatible",
    "canonical_version",
    "check",
    "check_file_path",
    "check_import_path",
    "check_path",
    "check_path_major",
    "escape_path",
    "escape_version",
    "match_path_major",
    "module_error_text",
    "path_major_prefix",
    "sort_module_versions",
    "split_path_version",
    "unescape_path",
    "unescape_version",
    "version_error",
]


# ---------------------------------------------------------------------------------------------
# Error types (module.InvalidPathError, module.InvalidVersionError, module.ModuleError).


class InvalidPathError(InvalidInput):
    """A module, import or file path breaks the naming rules: ``malformed KIND path "P": ...``."""

    def __init__(self, kind: str, path: str, err: str) -> None:
        self.kind = kind
        self.path = path
        self.err = err
        super().__init__(f"malformed {kind} path {quote(path)}: {err}")


class InvalidVersionError(InvalidInput):
    """A version is wrong on its own or for its path: ``version "V" invalid: ...``."""

    def __init__(self, version: str, err: str | Exception, *, pseudo: bool = False) -> None:
        self.version = version
        self.err = str(err)
        self.pseudo = pseudo
        super().__init__(f"{self.noun} {quote(version)} invalid: {self.err}")

    @property
    def noun(self) -> str:
        """``pseudo-version`` or ``version``, as Go writes it in messages."""
        return "pseudo-version" if self.pseudo else "version"


class ModuleError(InvalidInput):
    """An error about one module (path, optional version), worded as x/mod's ModuleError."""

    def __init__(self, path: str, err: str | Exception, version: str = "") -> None:
        self.path = path
        self.version = version
        self.cause = err
        if isinstance(err, InvalidVersionError):
            text = module_error_text(path, err.version, err.err, invalid=err.noun)
        else:
            text = module_error_text(path, version, str(err))
        super().__init__(text)


def module_error_text(path: str, version: str, err: str, *, invalid: str = "") -> str:
    """x/mod's ModuleError.Error: ``P@V: invalid NOUN: ERR`` for a version that is invalid
    (``invalid`` is the noun), else ``P@V: ERR``, or ``module P: ERR`` without a version."""
    if invalid:
        return f"{path}@{version}: invalid {invalid}: {err}"
    if version:
        return f"{path}@{version}: {err}"
    return f"module {path}: {err}"


def version_error(mv: ModuleVersion, err: str | Exception) -> InvalidInput:
    """Return a ModuleError for ``mv`` wrapping ``err``, or ``err`` itself when it already is
    a ModuleError for the same path and version (module.VersionError)."""
    if isinstance(err, ModuleError) and (err.path, err.version) == (mv.path, mv.version):
        return err
    return ModuleError(mv.path, err, version=mv.version)


class ModuleVersion(NamedTuple):
    """A module path and version pair (module.Version); ``str()`` is ``path@version``."""

    path: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.path}@{self.version}" if self.version else self.path


# ---------------------------------------------------------------------------------------------
# Path checks.


class _Kind(Enum):
    MODULE = "module"
    IMPORT = "import"
    FILE = "file"


_FILE_PUNCT = frozenset("!#$%&()+,-.=@[]^_{}~ ")
_MOD_PUNCT = frozenset("-._~")
_BAD_WINDOWS_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)


def _is_ascii_alnum(c: str) -> bool:
    return "0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z"


def _mod_path_ok(c: str) -> bool:
    return _is_ascii_alnum(c) or c in _MOD_PUNCT


def _import_path_ok(c: str) -> bool:
    return _mod_path_ok(c) or c == "+"


def _file_name_ok(c: str) -> bool:
    if c < "\x80":
        return _is_ascii_alnum(c) or c in _FILE_PUNCT
    return is_letter(c)


def _first_path_ok(c: str) -> bool:
    return c in "-." or "0" <= c <= "9" or "a" <= c <= "z"


_CHAR_OK = {_Kind.MODULE: _mod_path_ok, _Kind.IMPORT: _import_path_ok, _Kind.FILE: _file_name_ok}
#: Elements made only of ASCII characters each kind allows: most names, checked by one C-level
#: match instead of a call per character (the per-character loop still explains a failure).
_ALL_OK = {
    _Kind.MODULE: re.compile(r"[0-9A-Za-z\-._~]*").fullmatch,
    _Kind.IMPORT: re.compile(r"[0-9A-Za-z\-._~+]*").fullmatch,
    _Kind.FILE: re.compile(r"[0-9A-Za-z!#$%&()+,\-.=@\[\]^_{}~ ]*").fullmatch,
}


def _valid_utf8(s: str) -> bool:
    # A Python str is valid UTF-8 unless it holds surrogates (undecodable bytes kept by
    # surrogateescape, or lone surrogates), which Go would see as invalid UTF-8.
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_windows_reserved(short: str) -> bool:
    # strings.EqualFold against ASCII names: no non-ASCII rune folds to one of their letters
    # (only K and S have such folds), so an ASCII-only upper-casing is exact.
    return short.isascii() and short.upper() in _BAD_WINDOWS_NAMES


@lru_cache(maxsize=4096)
def _check_elem(elem: str, kind: _Kind) -> str | None:
    """Return why ``elem`` is not a valid path element of ``kind``, or None if it is.

    Memoized: the entries of one module zip share a few directory names (a large zip has
    tens of thousands of entries), and the answer depends on nothing else."""
    if not elem:
        return "empty path element"
    if elem.count(".") == len(elem):
        return f"invalid path element {quote(elem)}"
    if elem[0] == "." and kind is _Kind.MODULE:
        return "leading dot in path element"
    if elem[-1] == ".":
        return "trailing dot in path element"
    if _ALL_OK[kind](elem) is None:
        ok = _CHAR_OK[kind]
        for c in elem:
            if not ok(c):
                return f"invalid char {quote_rune(c)}"
    short = elem.split(".", 1)[0]
    if _is_windows_reserved(short):
        return f"{quote(short)} disallowed as path element component on Windows"
    if kind is _Kind.FILE:
        # Windows short names (tilde and digits) only matter for import paths.
        return None
    tilde = short.rfind("~")
    if 0 <= tilde < len(short) - 1 and all("0" <= c <= "9" for c in short[tilde + 1 :]):
        return "trailing tilde and digits in path element"
    return None


def _check_path(path: str, kind: _Kind) -> str | None:
    if not _valid_utf8(path):
        return "invalid UTF-8"
    if not path:
        return "empty string"
    if path[0] == "-" and kind is not _Kind.FILE:
        return "leading dash"
    if "//" in path:
        return "double slash"
    if path[-1] == "/":
        return "trailing slash"
    for elem in path.split("/"):
        err = _check_elem(elem, kind)
        if err is not None:
            return err
    return None


def _check_module_path(path: str) -> str | None:
    err = _check_path(path, _Kind.MODULE)
    if err is not None:
        return err
    i = path.find("/")
    if i < 0:
        i = len(path)
    # The next two checks cannot fail after _check_path (an empty first element and a leading
    # dash are refused there); they stay, as in x/mod, in case that order ever changes.
    if i == 0:  # pragma: no cover
        return "leading slash"
    first = path[:i]
    if "." not in first:
        return "missing dot in first path element"
    if path[0] == "-":  # pragma: no cover
        return "leading dash in first path element"
    for c in first:
        if not _first_path_ok(c):
            return f"invalid char {quote_rune(c)} in first path element"
    if not split_path_version(path)[2]:
        return "invalid version"
    return None


def check_path(path: str) -> None:
    """Check that ``path`` is a valid module path (module.CheckPath).

    Raises:
        InvalidPathError: ``malformed module path "P": REASON``.
    """
    err = _check_module_path(path)
    if err is not None:
        raise InvalidPathError("module", path, err)


def check_import_path(path: str) -> None:
    """Check that ``path`` is a valid package import path (module.CheckImportPath).

    Raises:
        InvalidPathError: ``malformed import path "P": REASON``.
    """
    err = _check_path(path, _Kind.IMPORT)
    if err is not None:
        raise InvalidPathError("import", path, err)


def check_file_path(path: str) -> None:
    """Check that ``path`` is a valid slash-separated file path (module.CheckFilePath).

    Raises:
        InvalidPathError: ``malformed file path "P": REASON``.
    """
    err = _check_path(path, _Kind.FILE)
    if err is not None:
        raise InvalidPathError("file", path, err)


def check(path: str, version: str) -> None:
    """Check that ``path`` is a valid module path, ``version`` a valid semantic version, and
    that the two agree on the major version (module.Check).

    Raises:
        InvalidPathError: the path is malformed.
        ModuleError: the version is not semver or does not match the path's major version.
    """
    check_path(path)
    if not semver.is_valid(version):
        raise ModuleError(path, InvalidVersionError(version, "not a semantic version"))
    _, path_major, _ = split_path_version(path)
    try:
        check_path_major(version, path_major)
    except InvalidVersionError as e:
        raise ModuleError(path, e) from None


# ---------------------------------------------------------------------------------------------
# Major-version suffixes.


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def split_path_version(path: str) -> tuple[str, str, bool]:
    """Split ``path`` into ``(prefix, path_major, ok)`` with ``prefix + path_major == path``.

    ``path_major`` is "" or ``/vN`` (N >= 2); for gopkg.in paths it is ``.vN`` (any N, with an
    optional ``-unstable``). ``ok`` is False for a malformed suffix such as ``/v1`` or ``/v2.0``,
    and then the result is ``(path, "", False)``.
    """
    if path.startswith("gopkg.in/"):
        return _split_gopkg_in(path)
    i = len(path)
    dot = False
    while i > 0 and (_is_digit(path[i - 1]) or path[i - 1] == "."):
        if path[i - 1] == ".":
            dot = True
        i -= 1
    if i <= 1 or i == len(path) or path[i - 1] != "v" or path[i - 2] != "/":
        return path, "", True
    prefix, path_major = path[: i - 2], path[i - 2 :]
    if dot or len(path_major) <= 2 or path_major[2] == "0" or path_major == "/v1":
        return path, "", False
    return prefix, path_major, True


def _split_gopkg_in(path: str) -> tuple[str, str, bool]:
    i = len(path)
    if path.endswith("-unstable"):
        i -= len("-unstable")
    while i > 0 and _is_digit(path[i - 1]):
        i -= 1
    if i <= 1 or path[i - 1] != "v" or path[i - 2] != ".":
        # Every gopkg.in path ends in .vN.
        return path, "", False
    prefix, path_major = path[: i - 2], path[i - 2 :]
    if len(path_major) <= 2 or (path_major[2] == "0" and path_major != ".v0"):
        return path, "", False
    return prefix, path_major, True


def check_path_major(v: str, path_major: str) -> None:
    """Check that version ``v`` matches the path major suffix ``path_major``
    (module.CheckPathMajor).

    Raises:
        InvalidVersionError: ``version "V" invalid: should be vN, not vM``.
    """
    if path_major.startswith(".v") and path_major.endswith("-unstable"):
        path_major = path_major[: -len("-unstable")]
    if v.startswith("v0.0.0-") and path_major == ".v1":
        # An old bug generated v0.0.0- pseudo-versions for gopkg.in .v1 paths; they stay valid.
        return
    m = semver.major(v)
    if path_major == "":
        if m in ("v0", "v1") or semver.build(v) == "+incompatible":
            return
        path_major = "v0 or v1"
    elif path_major[0] in "/.":
        if m == path_major[1:]:
            return
        path_major = path_major[1:]
    raise InvalidVersionError(v, f"should be {path_major}, not {m}")


def match_path_major(v: str, path_major: str) -> bool:
    """Report whether version ``v`` matches ``path_major`` (module.MatchPathMajor)."""
    try:
        check_path_major(v, path_major)
    except InvalidVersionError:
        return False
    return True


def path_major_prefix(path_major: str) -> str:
    """Return the major-version tag prefix (``v2``) that ``path_major`` implies; "" for "".

    Raises:
        InvalidInput: ``path_major`` lacks its separator or is not a major version (Go panics).
    """
    if path_major == "":
        return ""
    if path_major[0] not in "/.":
        raise InvalidInput(
            f"pathMajor suffix {path_major} passed to PathMajorPrefix lacks separator"
        )
    if path_major.startswith(".v") and path_major.endswith("-unstable"):
        path_major = path_major[: -len("-unstable")]
    m = path_major[1:]
    if m != semver.major(m):
        raise InvalidInput(
            f"pathMajor suffix {path_major}passed to PathMajorPrefix is not a valid major version"
        )
    return m


def canonical_version(v: str) -> str:
    """Return semver.canonical(v), keeping a ``+incompatible`` build suffix
    (module.CanonicalVersion)."""
    cv = semver.canonical(v)
    if semver.build(v) == "+incompatible":
        cv += "+incompatible"
    return cv


def can_be_incompatible(path: str, version: str) -> bool:
    """Report whether ``version`` (with or without its ``+incompatible`` suffix) may be used as
    a ``+incompatible`` version of module ``path``.

    That needs a valid module path without a major-version suffix (so never gopkg.in) and a
    valid full ``vX.Y.Z[-pre]`` version of major v2 or higher whose only build metadata, if
    any, is ``+incompatible``. The repository-side conditions (the module at the repository root, no
    go.mod there or in ``vN/`` at that revision) are decided by :mod:`gomod.coderepo`.
    """
    if _check_module_path(path) is not None or split_path_version(path)[1]:
        return False
    build = semver.build(version)
    if not semver.is_valid(version) or build not in ("", "+incompatible"):
        return False
    # A shorthand (v2, v2.1) cannot carry build metadata, so it has no +incompatible form.
    base = version[: len(version) - len(build)]
    return semver.is_valid(base + "+incompatible") and semver.major(version) not in ("v0", "v1")


def _compare_module_versions(a: ModuleVersion, b: ModuleVersion) -> int:
    if a.path != b.path:
        return -1 if a.path < b.path else 1
    vi, _, fi = a.version.partition("/")
    vj, _, fj = b.version.partition("/")
    if vi != vj:
        return semver.compare(vi, vj)
    return (fi > fj) - (fi < fj)


def sort_module_versions(versions: Iterable[ModuleVersion]) -> list[ModuleVersion]:
    """Sort by path, then by semver of the version; a ``/suffix`` after the version (as in
    go.sum's ``v1.0.0/go.mod``) breaks ties by string order (module.Sort)."""
    return sorted(versions, key=cmp_to_key(_compare_module_versions))


# ---------------------------------------------------------------------------------------------
# Escaping: every upper-case letter becomes "!" and its lower-case form.


def _escape_string(s: str) -> str:
    if "!" in s or not s.isascii():
        # The checks before this make it impossible; kept as x/mod keeps it.
        raise InvalidInput("internal error: inconsistency in EscapePath")
    return "".join(["!" + c.lower() if "A" <= c <= "Z" else c for c in s])


def escape_path(path: str) -> str:
    """Return the escaped form of module path ``path`` (module.EscapePath).

    Raises:
        InvalidPathError: the path is not a valid module path.
    """
    check_path(path)
    return _escape_string(path)


def escape_version(v: str) -> str:
    """Return the escaped form of version ``v`` (module.EscapeVersion). Any valid file name
    without ``!`` is accepted, not only semantic versions.

    Raises:
        InvalidVersionError: ``version "V" invalid: disallowed version string``.
    """
    if _check_elem(v, _Kind.FILE) is not None or "!" in v:
        raise InvalidVersionError(v, "disallowed version string")
    return _escape_string(v)


def _unescape_string(escaped: str) -> str | None:
    out: list[str] = []
    bang = False
    for c in escaped:
        if c >= "\x80":
            return None
        if bang:
            bang = False
            if not "a" <= c <= "z":
                return None
            out.append(c.upper())
        elif c == "!":
            bang = True
        elif "A" <= c <= "Z":
            return None
        else:
            out.append(c)
    if bang:
        return None
    return "".join(out)


def unescape_path(escaped: str) -> str:
    """Return the module path that ``escaped`` encodes (module.UnescapePath).

    Raises:
        InvalidInput: ``invalid escaped module path "E"`` (optionally ``: REASON``).
    """
    path = _unescape_string(escaped)
    if path is None:
        raise InvalidInput(f"invalid escaped module path {quote(escaped)}")
    try:
        check_path(path)
    except InvalidPathError as e:
        raise InvalidInput(f"invalid escaped module path {quote(escaped)}: {e}") from None
    return path


def unescape_version(escaped: str) -> str:
    """Return the version that ``escaped`` encodes (module.UnescapeVersion).

    Raises:
        InvalidInput: ``invalid escaped version "E"``, or ``invalid escaped version "V":
            REASON`` (Go quotes the unescaped version there).
    """
    v = _unescape_string(escaped)
    if v is None:
        raise InvalidInput(f"invalid escaped version {quote(escaped)}")
    err = _check_elem(v, _Kind.FILE)
    if err is not None:
        raise InvalidInput(f"invalid escaped version {quote(v)}: {err}")
    return v
