"""What ``mirror SOURCES...`` has to fetch: read go.sum, go.mod and go.work files.

A source is a go.sum (every line: a zip line fetches .info, .mod and .zip; a ``/go.mod``
line fetches .info and .mod), a go.mod (its module graph by MVS: the requirements are
walked as their go.mod files arrive), a go.work (the graph of all modules it uses, with its
replacements), a directory (its go.work, else its go.sum, else its go.mod), or
``MODULE@QUERY`` (the module and its graph, the query resolved as the go command does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import module
from gomodproxy.gomod.modfile import Replace, parse_gomod
from gomodproxy.gomod.modgraph import SumLine, parse_gosum, parse_gowork
from gomodproxy.gomod.module import ModuleVersion

__all__ = ["Plan", "read_gosum", "read_sources"]


@dataclass
class Plan:
    """Fixed targets from go.sum files, plus graph roots (with replacements) to walk."""

    #: (path, version) → go.sum hashes to check: ``"mod"`` and/or ``"zip"`` → h1.
    sums: dict[ModuleVersion, dict[str, str]] = field(default_factory=dict)
    roots: list[ModuleVersion] = field(default_factory=list)
    replaces: list[Replace] = field(default_factory=list)
    #: ``MODULE@QUERY`` arguments whose query is resolved at run time.
    queries: list[tuple[str, str]] = field(default_factory=list)

    def add_sums(self, lines: list[SumLine]) -> None:
        for line in lines:
            kinds = self.sums.setdefault(ModuleVersion(line.path, line.version), {})
            kinds["mod" if line.gomod_only else "zip"] = line.hash


def _read(path: Path | str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror or exc}") from None


def read_gosum(path: Path | str) -> list[SumLine]:
    """The lines of the go.sum file at ``path``, errors named by ``path`` as given.

    Raises:
        InvalidInput: the file is unreadable or malformed.
    """
    return parse_gosum(_read(path), str(path))


def _add_gomod(plan: Plan, data: bytes | str, filename: str = "go.mod") -> None:
    """A main module's requirements become graph roots, its replacements apply."""
    mf = parse_gomod(data, strict=True, filename=filename)
    plan.roots.extend(ModuleVersion(r.path, r.version) for r in mf.require)
    plan.replaces.extend(mf.replace)


def _add_gowork(plan: Plan, path: Path) -> None:
    work = parse_gowork(_read(path), filename=str(path))
    for use in work.use:
        gomod = path.parent / use / "go.mod"
        _add_gomod(plan, _read(gomod), str(gomod))
    # go.work replacements win over the modules' own.
    plan.replaces.extend(work.replace)


def _add_query(plan: Plan, src: str) -> None:
    path, _, query = src.partition("@")
    module.check_path(path)
    if not query:
        raise InvalidInput(f"{src}: empty query after @")
    plan.queries.append((path, query))


def plan_from_texts(*, gosum: str = "", gomod: str = "", modules: Sequence[str] = ()) -> Plan:
    """A plan from file contents rather than paths (``POST /admin/mirror``).

    Raises:
        InvalidInput: malformed go.sum or go.mod, or a bad MODULE@QUERY.
    """
    plan = Plan()
    if gosum:
        plan.add_sums(parse_gosum(gosum))
    if gomod:
        _add_gomod(plan, gomod)
    for src in modules:
        _add_query(plan, src)
    return plan


def read_sources(sources: list[str]) -> Plan:
    """The plan for ``sources``.

    Raises:
        InvalidInput: a file is unreadable or malformed, or an argument is none of the kinds.
    """
    plan = Plan()
    for src in sources:
        p = Path(src)
        if p.is_dir():
            if (p / "go.work").is_file():
                _add_gowork(plan, p / "go.work")
            elif (p / "go.sum").is_file():
                plan.add_sums(read_gosum(p / "go.sum"))
            elif (p / "go.mod").is_file():
                _add_gomod(plan, _read(p / "go.mod"), str(p / "go.mod"))
            else:
                raise InvalidInput(f"{src}: no go.work, go.sum or go.mod in this directory")
        elif p.name.endswith(".sum") and p.is_file():
            plan.add_sums(parse_gosum(_read(p), src))
        elif p.name == "go.work" or p.name.endswith(".work"):
            _add_gowork(plan, p)
        elif p.name.endswith(".mod") and p.is_file():
            _add_gomod(plan, _read(p), src)
        elif "@" in src and not p.exists():
            _add_query(plan, src)
        else:
            raise InvalidInput(f"{src}: not a go.sum, go.mod, go.work, directory or MODULE@VERSION")
    return plan
