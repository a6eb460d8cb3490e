"""Go's unicode.IsSpace, strings.TrimSpace and strings.Fields.

``str.strip()`` and ``str.split()`` also treat U+001C..U+001F as space; Go does not.
(Go's ``%q`` quoting is ``gomodproxy.gomod._gostr.quote``.)
"""

from __future__ import annotations

__all__ = ["go_fields", "go_is_space", "go_trim_space"]

_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def go_is_space(c: str) -> bool:
    """Go's ``unicode.IsSpace`` for one character."""
    return c in _SPACES


def go_trim_space(s: str) -> str:
    """Go's ``strings.TrimSpace``."""
    start, end = 0, len(s)
    while start < end and s[start] in _SPACES:
        start += 1
    while end > start and s[end - 1] in _SPACES:
        end -= 1
    return s[start:end]


def go_fields(s: str) -> list[str]:
    """Go's ``strings.Fields``: split around runs of ``unicode.IsSpace``."""
    fields: list[str] = []
    cur: list[str] = []
    for c in s:
        if c in _SPACES:
            if cur:
                fields.append("".join(cur))
                cur = []
        else:
            cur.append(c)
    if cur:
        fields.append("".join(cur))
    return fields
