"""Shell-like words and ``$VAR`` expansion, as Dockerfile ENV/ARG and profile scripts use them.

Pure. Not a shell: enough of the quoting rules that Docker's word processor and simple
``/etc/profile.d`` scripts use (single and double quotes, an escape character, ``$VAR``,
``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``, ``${VAR+alt}``).
Unknown variables expand to the empty string and are reported to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Expansion:
    """The result of expanding one word."""

    text: str
    #: Variables referenced that had no value.
    missing: list[str] = field(default_factory=list)
    #: Variables referenced (with or without a value).
    used: list[str] = field(default_factory=list)


def _expand_var(s: str, i: int, vars: Mapping[str, str], out: Expansion) -> tuple[str, int]:
    """Expand the ``$`` reference starting at ``s[i] == '$'``; return text and next index."""
    if i + 1 < len(s) and s[i + 1] == "{":
        end = s.find("}", i + 2)
        if end < 0:
            return s[i:], len(s)
        body = s[i + 2 : end]
        m = _NAME.match(body)
        if not m:
            return s[i : end + 1], end + 1
        name, rest = m.group(), body[m.end() :]
        out.used.append(name)
        val = vars.get(name)
        for op in (":-", ":+", "-", "+"):
            if rest.startswith(op):
                word = rest[len(op) :]
                set_ = val is not None and (val != "" or ":" not in op)
                if op.endswith("-"):
                    return (val if set_ and val is not None else word), end + 1
                return (word if set_ else ""), end + 1
        if val is None:
            out.missing.append(name)
        return val or "", end + 1
    m = _NAME.match(s, i + 1)
    if not m:
        return "$", i + 1
    name = m.group()
    out.used.append(name)
    val = vars.get(name)
    if val is None:
        out.missing.append(name)
    return val or "", m.end()


def expand(word: str, vars: Mapping[str, str] | None, escape: str = "\\") -> Expansion:
    """Remove quotes from ``word`` and expand variables (not inside single quotes); with
    ``vars`` None, only remove quotes (``$`` stays as written)."""
    out = Expansion("")
    buf: list[str] = []
    i, quote = 0, ""
    while i < len(word):
        c = word[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                buf.append(c)
            i += 1
        elif c == escape and i + 1 < len(word):
            buf.append(word[i + 1])
            i += 2
        elif c == "$" and vars is not None:
            text, i = _expand_var(word, i, vars, out)
            buf.append(text)
        elif c == '"':
            quote = "" if quote == '"' else '"'
            i += 1
        elif c == "'" and not quote:
            quote = "'"
            i += 1
        else:
            buf.append(c)
            i += 1
    out.text = "".join(buf)
    return out


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in each word."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            buf.append(c)
            if c == escape and quote == '"' and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c == escape and i + 1 < len(text):
            buf.append(c + text[i + 1])
            i += 1
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c.isspace():
            if buf:
                words.append("".join(buf))
                buf = []
        else:
            buf.append(c)
        i += 1
    if buf:
        words.append("".join(buf))
    return words


def parse_assignments(text: str, escape: str = "\\") -> list[tuple[str, str | None]]:
    """Split ``K=V K2="v 2"`` into raw (unexpanded) name/value pairs; a word without ``=``
    gives ``(word, None)`` (``ARG NAME``)."""
    pairs: list[tuple[str, str | None]] = []
    for w in split_words(text, escape):
        name, eq, value = w.partition("=")
        if eq:
            pairs.append((name, value))
        else:
            pairs.append((w, None))
    return pairs
