"""The go.mod subset a proxy needs, as golang.org/x/mod/modfile parses it.

:func:`parse_gomod` is ``modfile.ParseLax(file, data, nil)`` by default: the go command reads
every go.mod that is not the main module's that way, and that is what a proxy serves. Lax
mode keeps ``module``, ``go``, ``require``, ``retract`` and ``ignore`` and ignores every other
directive (``toolchain``, ``replace``, future ones), so a dependency's go.mod written for a
newer Go still parses; malformed retractions are dropped rather than failing the file.
``strict=True`` is ``modfile.Parse`` (the main module, as the doctor reads a CI project's
go.mod): unknown directives are errors and ``toolchain``, ``exclude``, ``replace``,
``godebug`` and ``tool`` are read too. No version fixer is applied (``fix == nil``):
require versions are canonicalized and must be valid, retract versions are kept as written.

Errors carry modfile's texts and positions (``go.mod:3: usage: module module/path``, one line
per error); a syntax error stops parsing, directive errors are all collected.
:func:`module_path` is ``modfile.ModulePath``, the cheap scan that tolerates everything else.

The lexer works on runes as Go's does; bytes that are not UTF-8 (surrogates after
``surrogateescape``) count as one rune each, as U+FFFD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import module
from gomodproxy.gomod._gostr import quote
from gomodproxy.gomod._gostrings import go_fields, go_trim_space
from gomodproxy.gomod._modsyntax import Block, Line, ModSyntaxError, at, parse_syntax

__all__ = [
    "ModFile",
    "ModFileError",
    "Replace",
    "Require",
    "Retract",
    "module_path",
    "parse_gomod",
]

GO_VERSION_RE = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?")
_LAX_GO_VERSION_RE = re.compile(r"v?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9].*)")
TOOLCHAIN_RE = re.compile(r"default\Z|go1(\Z|\.)")
# Go's $ without (?m) is the end of the text; Python's would also match before a final "\n".
_DEPRECATED_RE = re.compile(r"(?s)(?:^|\n\n)Deprecated: *(.*?)(?:\Z|\n\n)")


class ModFileError(InvalidInput):
    """go.mod cannot be parsed; ``str()`` is modfile's ErrorList text, ``errors`` its lines."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class Require:
    """A ``require`` line: the version is canonical; ``indirect`` from a ``// indirect``."""

    path: str
    version: str
    indirect: bool = False


@dataclass(frozen=True)
class Retract:
    """A retracted interval (``low == high`` for a single version) and its rationale."""

    low: str
    high: str
    rationale: str = ""


@dataclass(frozen=True)
class Replace:
    """A ``replace`` line (strict mode only)."""

    old_path: str
    old_version: str
    new_path: str
    new_version: str


@dataclass(frozen=True)
class ModFile:
    """What a go.mod says. ``module`` is None without a module directive, ``go`` and
    ``toolchain`` None without theirs (``toolchain`` is always None in lax mode)."""

    module: str | None = None
    deprecated: str = ""
    go: str | None = None
    toolchain: str | None = None
    require: tuple[Require, ...] = ()
    retract: tuple[Retract, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[tuple[str, str], ...] = ()
    replace: tuple[Replace, ...] = ()
    godebug: tuple[tuple[str, str], ...] = ()
    tool: tuple[str, ...] = ()


class _DirectiveError(Exception):
    """An error with modfile's Verb/ModPath decoration, before the position is added."""

    def __init__(self, msg: str, verb: str = "", mod_path: str = "") -> None:
        super().__init__(msg)
        if mod_path:
            msg = f"{verb} {mod_path}: {msg}"
        elif verb:
            msg = f"{verb}: {msg}"
        self.text = msg


_UNQUOTE_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def _unquote(t: str) -> str:
    """strconv.Unquote of a double-quoted token from the lexer; ValueError when malformed."""
    inner = t[1:-1]
    out = bytearray()
    i = 0
    while i < len(inner):
        c = inner[i]
        if c == '"':  # only ModulePath can pass an unescaped quote: "a" "b"
            raise ValueError
        if c != "\\":
            out += ("\ufffd" if "\ud800" <= c <= "\udfff" else c).encode()
            i += 1
            continue
        e = inner[i + 1 : i + 2]
        i += 2
        if e in _UNQUOTE_SIMPLE:
            out.append(_UNQUOTE_SIMPLE[e])
        elif e in ("x", "u", "U"):
            n = {"x": 2, "u": 4, "U": 8}[e]
            digits = inner[i : i + n]
            if len(digits) < n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError
            v = int(digits, 16)
            i += n
            if e == "x":
                out.append(v)
            elif v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise ValueError
            else:
                out += chr(v).encode()
        elif e in "01234567" and e:
            digits = e + inner[i : i + 2]
            if len(digits) < 3 or any(d not in "01234567" for d in digits):
                raise ValueError
            v = int(digits, 8)
            if v > 255:
                raise ValueError
            out.append(v)
            i += 2
        else:
            raise ValueError
    return out.decode("utf-8", "surrogateescape")


def _parse_string(t: str) -> str:
    if t.startswith('"'):
        try:
            return _unquote(t)
        except ValueError:
            raise _DirectiveError("invalid syntax") from None
    if any(q in t for q in "\"'`"):
        raise _DirectiveError("unquoted string cannot contain quote")
    return t


def _parse_version(verb: str, path: str, t: str, *, canonical: bool) -> str:
    try:
        s = _parse_string(t)
    except _DirectiveError as e:
        raise _DirectiveError(
            str(module.InvalidVersionError(t, str(e))), verb=verb, mod_path=path
        ) from None
    if not canonical:
        return s
    cv = module.canonical_version(s)
    if cv == "":
        raise _DirectiveError(
            str(module.InvalidVersionError(s, "must be of the form v1.2.3")),
            verb=verb,
            mod_path=path,
        )
    return cv


def _parse_interval(verb: str, args: list[str]) -> tuple[str, str, list[str]]:
    if not args or args[0] == "(":
        raise _DirectiveError("expected '[' or version")
    if args[0] != "[":
        v = _parse_version(verb, "", args[0], canonical=False)
        return v, v, args[1:]
    toks = args[1:]
    if not toks:
        raise _DirectiveError("expected version after '['")
    low = _parse_version(verb, "", toks[0], canonical=False)
    toks = toks[1:]
    if not toks or toks[0] != ",":
        raise _DirectiveError("expected ',' after version")
    toks = toks[1:]
    if not toks:
        raise _DirectiveError("expected version after ','")
    high = _parse_version(verb, "", toks[0], canonical=False)
    toks = toks[1:]
    if not toks or toks[0] != "]":
        raise _DirectiveError("expected ']' after version")
    return low, high, toks[1:]


def _comment_text(block: Block | None, line: Line) -> str:
    before, suffix = line.before, line.suffix
    if block is not None and not before and not suffix:
        before, suffix = block.before, block.suffix
    return "\n".join(
        go_trim_space(c.token[2:]) for c in before + suffix if c.token.startswith("//")
    )


def _path_major(path: str) -> str:
    _, major, ok = module.split_path_version(path)
    if not ok:
        raise _DirectiveError("invalid module path")
    return major


def _is_directory_path(ns: str) -> bool:
    return (
        ns in (".", "..")
        or ns.startswith(("./", ".\\", "../", "..\\", "/", "\\"))
        or (len(ns) >= 2 and ns[0].isascii() and ns[0].isalpha() and ns[1] == ":")
    )


@dataclass
class _Builder:
    strict: bool
    module: str | None = None
    deprecated: str = ""
    go: str | None = None
    toolchain: str | None = None
    seen: set[str] = field(default_factory=set)
    require: list[Require] = field(default_factory=list)
    retract: list[Retract] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[tuple[str, str]] = field(default_factory=list)
    replace: list[Replace] = field(default_factory=list)
    godebug: list[tuple[str, str]] = field(default_factory=list)
    tool: list[str] = field(default_factory=list)

    def add(self, block: Block | None, line: Line, verb: str, args: list[str]) -> None:
        if not self.strict and verb not in ("go", "module", "retract", "require", "ignore"):
            return
        if verb == "go":
            self.add_go(args)
        elif verb == "toolchain":
            if "toolchain" in self.seen:
                raise _DirectiveError("repeated toolchain statement")
            if len(args) != 1:
                raise _DirectiveError("toolchain directive expects exactly one argument")
            if not TOOLCHAIN_RE.match(args[0]):
                raise _DirectiveError(
                    f"invalid toolchain version '{args[0]}': must match format go1.23.0 or default"
                )
            self.seen.add("toolchain")
            self.toolchain = args[0]
        elif verb == "module":
            if "module" in self.seen:
                raise _DirectiveError("repeated module statement")
            self.seen.add("module")
            match = _DEPRECATED_RE.search(_comment_text(block, line))
            self.deprecated = match.group(1) if match else ""
            if len(args) != 1:
                raise _DirectiveError("usage: module module/path")
            self.module = self.string(args[0])
        elif verb == "godebug":
            key, eq, value = (args[0] if len(args) == 1 else "").partition("=")
            if len(args) != 1 or any(c in args[0] for c in "\"`',") or not eq:
                raise _DirectiveError("usage: godebug key=value")
            self.godebug.append((key, value))
        elif verb in ("require", "exclude"):
            self.add_require(line, verb, args)
        elif verb == "replace":
            self.replace.append(_parse_replace(verb, args))
        elif verb == "retract":
            self.add_retract(block, line, verb, args)
        elif verb in ("tool", "ignore"):
            if len(args) != 1:
                raise _DirectiveError(f"{verb} directive expects exactly one argument")
            (self.tool if verb == "tool" else self.ignore).append(self.string(args[0]))
        else:
            raise _DirectiveError(f"unknown directive: {verb}")

    @staticmethod
    def string(t: str) -> str:
        try:
            return _parse_string(t)
        except _DirectiveError as e:
            raise _DirectiveError(f"invalid quoted string: {e}") from None

    def add_go(self, args: list[str]) -> None:
        if "go" in self.seen:
            raise _DirectiveError("repeated go statement")
        if len(args) != 1:
            raise _DirectiveError("go directive expects exactly one argument")
        version = args[0]
        if not GO_VERSION_RE.fullmatch(version):
            m = None if self.strict else _LAX_GO_VERSION_RE.fullmatch(version)
            if m is None:
                raise _DirectiveError(f"invalid go version '{version}': must match format 1.23.0")
            version = m.group(1)
        self.seen.add("go")
        self.go = version

    def add_require(self, line: Line, verb: str, args: list[str]) -> None:
        if len(args) != 2:
            raise _DirectiveError(f"usage: {verb} module/path v1.2.3")
        path = self.string(args[0])
        version = _parse_version(verb, path, args[1], canonical=True)
        major = _path_major(path)
        try:
            module.check_path_major(version, major)
        except module.InvalidVersionError as e:
            raise _DirectiveError(str(e), verb=verb, mod_path=path) from None
        if verb == "exclude":
            self.exclude.append((path, version))
            return
        words = go_fields(line.suffix[0].token.removeprefix("//")) if line.suffix else []
        indirect = words == ["indirect"] or (len(words) > 1 and words[0] == "indirect;")
        self.require.append(Require(path, version, indirect))

    def add_retract(self, block: Block | None, line: Line, verb: str, args: list[str]) -> None:
        rationale = _comment_text(block, line)
        try:
            low, high, rest = _parse_interval(verb, args)
        except _DirectiveError:
            if self.strict:
                raise
            return
        if rest and self.strict:
            raise _DirectiveError(f"unexpected token after version: {quote(rest[0])}")
        self.retract.append(Retract(low, high, rationale))

    def build(self) -> ModFile:
        return ModFile(
            module=self.module,
            deprecated=self.deprecated,
            go=self.go,
            toolchain=self.toolchain,
            require=tuple(self.require),
            retract=tuple(self.retract),
            ignore=tuple(self.ignore),
            exclude=tuple(self.exclude),
            replace=tuple(self.replace),
            godebug=tuple(self.godebug),
            tool=tuple(self.tool),
        )


def _parse_replace(verb: str, args: list[str]) -> Replace:
    arrow = 1 if len(args) >= 2 and args[1] == "=>" else 2
    if len(args) < arrow + 2 or len(args) > arrow + 3 or args[arrow] != "=>":
        raise _DirectiveError(
            f"usage: {verb} module/path [v1.2.3] => other/module v1.4\n"
            f"\t or {verb} module/path [v1.2.3] => ../local/directory"
        )
    old = _Builder.string(args[0])
    try:
        major = _path_major(old)
    except _DirectiveError as e:
        raise _DirectiveError(str(e), verb=verb, mod_path=old) from None
    old_version = ""
    if arrow == 2:
        old_version = _parse_version(verb, old, args[1], canonical=True)
        try:
            module.check_path_major(old_version, major)
        except module.InvalidVersionError as e:
            raise _DirectiveError(str(e), verb=verb, mod_path=old) from None
    new = _Builder.string(args[arrow + 1])
    new_version = ""
    if len(args) == arrow + 2:
        if not _is_directory_path(new):
            if "@" in new:
                raise _DirectiveError(
                    "replacement module must match format 'path version', not 'path@version'"
                )
            raise _DirectiveError(
                "replacement module without version must be directory path "
                "(rooted or starting with . or ..)"
            )
        if "\\" in new:
            raise _DirectiveError(
                "replacement directory appears to be Windows path (on a non-windows system)"
            )
    else:
        new_version = _parse_version(verb, new, args[arrow + 2], canonical=True)
        if _is_directory_path(new):
            raise _DirectiveError(
                f"replacement module directory path {quote(new)} cannot have version"
            )
    return Replace(old, old_version, new, new_version)


_BLOCK_VERBS = ("module", "godebug", "require", "exclude", "replace", "retract", "tool", "ignore")


def parse_gomod(data: bytes | str, *, strict: bool = False, filename: str = "go.mod") -> ModFile:
    """Parse go.mod as ``modfile.ParseLax`` (or ``modfile.Parse`` with ``strict=True``).

    Raises:
        ModFileError: with modfile's text, e.g. ``go.mod:2: repeated module statement`` or
            ``go.mod:3:5: unexpected input character '\\x00'``.
    """
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    try:
        stmts = parse_syntax(filename, text)
    except ModSyntaxError as e:
        raise ModFileError([str(e)]) from None
    builder = _Builder(strict)
    errors: list[str] = []

    def add(block: Block | None, line: Line, verb: str, args: list[str]) -> None:
        try:
            builder.add(block, line, verb, args)
        except _DirectiveError as e:
            errors.append(at(filename, line.start, e.text))

    for x in stmts:
        if isinstance(x, Line):
            add(None, x, x.tokens[0], x.tokens[1:])
        elif len(x.tokens) == 1 and x.tokens[0] in _BLOCK_VERBS:
            for line in x.lines:
                add(x, line, x.tokens[0], line.tokens)
        elif strict:
            errors.append(at(filename, x.start, "unknown block type: " + " ".join(x.tokens)))
    if errors:
        raise ModFileError(errors)
    return builder.build()


def module_path(data: bytes | str) -> str:
    """The module path of a go.mod, or "" (``modfile.ModulePath``: a line scan that ignores
    everything but the first ``module`` line)."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    for raw in text.split("\n"):
        line = go_trim_space(raw.split("//", 1)[0])
        if not line.startswith("module"):
            continue
        rest = line[len("module") :]
        trimmed = go_trim_space(rest)
        if len(trimmed) == len(rest) or not trimmed:
            continue
        if trimmed[0] == '"':
            try:
                return _unquote(trimmed) if len(trimmed) >= 2 and trimmed[-1] == '"' else ""
            except ValueError:
                return ""
        if trimmed[0] == "`":
            inner = trimmed[1:]
            end = inner.find("`")
            return inner[:end].replace("\r", "") if end == len(inner) - 1 else ""
        return trimmed
    return ""
