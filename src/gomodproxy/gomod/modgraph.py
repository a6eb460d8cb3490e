"""What a build needs, read from go.sum, go.mod and go.work, and minimal version selection.

- ``parse_gosum``: the go command's ``readGoSum`` (cmd/go/internal/modfetch/fetch.go): blank
  lines skipped, three fields per line, the old empty-go.mod hash dropped; a ``/go.mod``
  version suffix marks a go.mod-only line.
- ``parse_gowork``: the ``use`` and ``replace`` directives of a go.work (x/mod/modfile
  ParseWork; other directives are not needed to know which modules to fetch).
- ``ModuleGraph``: the module graph walked as cmd/go/internal/mvs does without graph
  pruning: every version reachable through ``require`` lines is visited and, per module path,
  the highest version reached is selected. Pruning (go >= 1.17) makes the go command read
  fewer go.mod files, never others, so this walk fetches a superset of what it would need.
  The graph is sans-IO: ``pending()`` says which go.mod files it needs next, ``provide()``
  hands one in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cmp_to_key

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import semver
from gomodproxy.gomod._modsyntax import Block, Line, ModSyntaxError, at, parse_syntax
from gomodproxy.gomod.modfile import (
    ModFileError,
    Replace,
    _DirectiveError,
    _parse_replace,
    _parse_string,
    parse_gomod,
)
from gomodproxy.gomod.module import ModuleVersion

__all__ = [
    "EMPTY_GOMOD_HASH",
    "ModuleGraph",
    "SumLine",
    "WorkFile",
    "parse_gosum",
    "parse_gowork",
]

#: The hash of a tree holding one empty go.mod: an old bug wrote it for non-modules.
EMPTY_GOMOD_HASH = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="


@dataclass(frozen=True)
class SumLine:
    """One go.sum line: ``gomod_only`` for ``<version>/go.mod`` lines."""

    path: str
    version: str
    gomod_only: bool
    hash: str


def parse_gosum(data: bytes | str, filename: str = "go.sum") -> list[SumLine]:
    """The lines of a go.sum, in file order.

    Raises:
        InvalidInput: ``malformed go.sum`` with the go command's text.
    """
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    out: list[SumLine] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        f = line.split()
        if not f:
            continue
        if len(f) != 3:
            raise InvalidInput(
                f"malformed go.sum:\n{filename}:{lineno}: wrong number of fields {len(f)}"
            )
        if f[2] == EMPTY_GOMOD_HASH:
            continue
        version, gomod_only = f[1], f[1].endswith("/go.mod")
        out.append(SumLine(f[0], version.removesuffix("/go.mod"), gomod_only, f[2]))
    return out


@dataclass(frozen=True)
class WorkFile:
    """The directories a go.work uses and its replacements."""

    use: tuple[str, ...] = ()
    replace: tuple[Replace, ...] = ()


def parse_gowork(data: bytes | str, filename: str = "go.work") -> WorkFile:
    """The ``use`` and ``replace`` directives of a go.work.

    Raises:
        ModFileError: with modfile's ``file:line: message`` text.
    """
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    try:
        stmts = parse_syntax(filename, text)
    except ModSyntaxError as e:
        raise ModFileError([str(e)]) from None
    use: list[str] = []
    replace: list[Replace] = []
    errors: list[str] = []

    def add(line: Line, verb: str, args: list[str]) -> None:
        try:
            if verb == "use":
                if len(args) != 1:
                    raise _DirectiveError("usage: use local/dir")
                use.append(_parse_string(args[0]))
            elif verb == "replace":
                replace.append(_parse_replace(verb, args))
        except _DirectiveError as e:
            errors.append(at(filename, line.start, str(e)))

    for x in stmts:
        if isinstance(x, Block):
            for line in x.lines:
                add(line, x.tokens[0], line.tokens)
        else:
            add(x, x.tokens[0], x.tokens[1:])
    if errors:
        raise ModFileError(errors)
    return WorkFile(tuple(use), tuple(replace))


def _by_semver(versions: list[str]) -> str:
    return max(versions, key=cmp_to_key(semver.compare))


@dataclass
class ModuleGraph:
    """The requirement graph below some root requirements, with replacements applied.

    ``replace`` maps ``(path, version)`` (version ``""`` for every version) to the module
    whose go.mod and zip stand in for it; a replacement by a directory (empty new version)
    has no requirements we can fetch and ends the walk there.
    """

    roots: list[ModuleVersion]
    replace: dict[tuple[str, str], ModuleVersion] = field(default_factory=dict)
    _reached: dict[str, set[str]] = field(default_factory=dict, init=False)
    _visited: set[ModuleVersion] = field(default_factory=set, init=False)
    _todo: list[ModuleVersion] = field(default_factory=list, init=False)
    _asked: set[ModuleVersion] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        for mv in self.roots:
            self._reach(mv)

    @classmethod
    def from_replaces(cls, roots: list[ModuleVersion], replaces: list[Replace]) -> ModuleGraph:
        """A graph whose replacements come from go.mod / go.work ``replace`` lines."""
        table = {
            (r.old_path, r.old_version): ModuleVersion(r.new_path, r.new_version) for r in replaces
        }
        return cls(roots, table)

    def resolve(self, mv: ModuleVersion) -> ModuleVersion | None:
        """The module actually fetched for ``mv``; None for a directory replacement."""
        target = self.replace.get((mv.path, mv.version)) or self.replace.get((mv.path, ""))
        if target is None:
            return mv
        return target if target.version else None

    def _reach(self, mv: ModuleVersion) -> None:
        self._reached.setdefault(mv.path, set()).add(mv.version)
        if mv not in self._visited:
            self._visited.add(mv)
            self._todo.append(mv)

    def pending(self) -> list[ModuleVersion]:
        """Module versions whose go.mod (of the resolved module) is needed and not yet asked."""
        out = []
        while self._todo:
            mv = self._todo.pop(0)
            target = self.resolve(mv)
            if target is None or target in self._asked:
                continue
            self._asked.add(target)
            out.append(target)
        return out

    def provide(self, fetched: ModuleVersion, gomod: bytes) -> None:
        """Hand in the go.mod of ``fetched`` (a resolved module); its requirements are walked.

        Raises:
            ModFileError: the go.mod does not parse.
        """
        mf = parse_gomod(gomod, filename=f"{fetched.path}@{fetched.version}/go.mod")
        for req in mf.require:
            self._reach(ModuleVersion(req.path, req.version))

    def build_list(self) -> list[ModuleVersion]:
        """The selected version of every module path reached, sorted by path (``mvs``'s
        BuildList without the main module)."""
        return [ModuleVersion(p, _by_semver(sorted(v))) for p, v in sorted(self._reached.items())]

    def visited(self) -> list[ModuleVersion]:
        """Every module version the walk reached, sorted (each needs its go.mod)."""
        return sorted(self._visited)
