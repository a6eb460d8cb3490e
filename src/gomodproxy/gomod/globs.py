"""GOPRIVATE-style prefix-glob lists, as in golang.org/x/mod/module.MatchPrefixPatterns.

GOPRIVATE, GONOPROXY, GONOSUMDB and GOINSECURE are comma-separated lists of Go ``path.Match``
patterns. A pattern with N slashes is matched against the first N+1 elements of the module
path. Entries are *not* trimmed of spaces (``"a.com, b.com"`` never matches ``b.com``), empty
entries are skipped, one trailing slash is ignored, and a malformed pattern matches nothing.

:func:`path_match` is Go's ``path.Match``, not :mod:`fnmatch`: ``*`` and ``?`` stop at ``/``,
classes are ``[...]``/``[^...]``, and a backslash escapes. It works on UTF-8 bytes as Go does,
so even its odd corners (a ``*`` that resumes matching inside a multi-byte character) agree.
"""

from __future__ import annotations

from gomodproxy.errors import InvalidInput

__all__ = ["BadPatternError", "match_prefix_patterns", "path_match"]

_RUNE_ERROR = 0xFFFD
_SLASH = 0x2F
_BACKSLASH = 0x5C


class BadPatternError(InvalidInput):
    """The pattern is malformed (path.ErrBadPattern): ``syntax error in pattern``."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def _to_bytes(s: str) -> bytes:
    # Bytes kept by surrogateescape go back to the raw bytes Go would have seen.
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def _decode_rune(b: bytes, i: int) -> tuple[int, int]:
    """Decode the rune at ``b[i:]`` like utf8.DecodeRuneInString: (rune, width); an invalid
    or truncated sequence is (U+FFFD, 1)."""
    c = b[i]
    if c < 0x80:
        return c, 1
    n = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
    if n == 0:
        return _RUNE_ERROR, 1
    try:
        r = b[i : i + n].decode("utf-8")
    except UnicodeDecodeError:
        return _RUNE_ERROR, 1
    return ord(r), n


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    """Split off the next chunk: (preceded by a star, non-star chunk, rest of pattern)."""
    star = False
    while pattern and pattern[0] == 0x2A:  # "*"
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == _BACKSLASH:
            # A trailing backslash is reported by _match_chunk.
            if i + 1 < len(pattern):
                i += 1
        elif c == 0x5B:  # "["
            in_range = True
        elif c == 0x5D:  # "]"
            in_range = False
        elif c == 0x2A and not in_range:
            return star, pattern[:i], pattern[i:]
        i += 1
    return star, pattern, b""


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    """Read a possibly escaped character of a class; raise on a malformed class."""
    if not chunk or chunk[0] in (0x2D, 0x5D):  # "-" or "]"
        raise BadPatternError
    if chunk[0] == _BACKSLASH:
        chunk = chunk[1:]
        if not chunk:
            raise BadPatternError
    r, n = _decode_rune(chunk, 0)
    rest = chunk[n:]
    if (r == _RUNE_ERROR and n == 1) or not rest:
        raise BadPatternError
    return r, rest


def _match_chunk(chunk: bytes, s: bytes) -> bytes | None:
    """Match ``chunk`` (no stars) against the start of ``s``: the rest of ``s``, or None.

    Raises BadPatternError for a malformed chunk, even after the match has already failed.
    """
    failed = False
    while chunk:
        failed = failed or not s
        c = chunk[0]
        if c == 0x5B:  # "[": a character class
            r = -1
            if not failed:
                r, n = _decode_rune(s, 0)
                s = s[n:]
            chunk = chunk[1:]
            negated = bool(chunk) and chunk[0] == 0x5E  # "^"
            if negated:
                chunk = chunk[1:]
            match = False
            nrange = 0
            while True:
                if chunk and chunk[0] == 0x5D and nrange > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == 0x2D:  # "-"
                    hi, chunk = _get_esc(chunk[1:])
                match = match or lo <= r <= hi
                nrange += 1
            failed = failed or match == negated
        elif c == 0x3F:  # "?"
            if not failed:
                failed = s[0] == _SLASH
                s = s[_decode_rune(s, 0)[1] :]
            chunk = chunk[1:]
        else:
            if c == _BACKSLASH:
                chunk = chunk[1:]
                if not chunk:
                    raise BadPatternError
            if not failed:
                failed = chunk[0] != s[0]
                s = s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _match(pattern: bytes, name: bytes) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            # A trailing star matches the rest of the name unless it has a slash.
            return _SLASH not in name
        t = _match_chunk(chunk, name)
        if t is not None and (not t or pattern):
            name = t
            continue
        if star:
            # Let the star eat 1, 2, ... bytes, never a slash.
            resumed = False
            i = 0
            while i < len(name) and name[i] != _SLASH:
                t = _match_chunk(chunk, name[i + 1 :])
                if t is not None and (pattern or not t):
                    name = t
                    resumed = True
                    break
                i += 1
            if resumed:
                continue
        # Failing: the rest of the pattern must still be well-formed.
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, b"")
        return False
    return not name


def path_match(pattern: str, name: str) -> bool:
    """Report whether ``name`` matches the shell ``pattern`` as Go's ``path.Match`` does.

    Raises:
        BadPatternError: the pattern is malformed.
    """
    return _match(_to_bytes(pattern), _to_bytes(name))


def match_prefix_patterns(globs: str, target: str) -> bool:
    """Report whether a path prefix of ``target`` matches a pattern of the comma-separated
    ``globs`` list (module.MatchPrefixPatterns). Empty and malformed patterns never match."""
    name = _to_bytes(target)
    for glob_str in globs.split(","):
        glob = _to_bytes(glob_str)
        if glob.endswith(b"/"):
            glob = glob[:-1]
        if not glob:
            continue
        # A glob with n slashes is matched against the first n+1 elements of the target.
        n = glob.count(b"/")
        prefix = name
        for i, c in enumerate(name):
            if c == _SLASH:
                if n == 0:
                    prefix = name[:i]
                    break
                n -= 1
        if n > 0:
            continue
        try:
            if _match(glob, prefix):
                return True
        except BadPatternError:
            continue
    return False
