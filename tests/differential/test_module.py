"""gomod.module (and Go's quoting and Unicode tables) against golang.org/x/mod/module on
generated paths and versions, in one oracle process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.gomod import _gostr, module
from tests.differential.xmod_batch import CASES, Batch, mismatches
from tests.outcomes import error_of, result_of
from tests.property.strategies import (
    PATH_CHARS,
    Draw,
    batch,
    escaped_path,
    module_path,
    version,
)

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "module.json").read_text())
STRINGS = (
    [c["p"] for c in VECTORS["paths"]]
    + batch(module_path, CASES, seed=11)
    + batch(escaped_path, CASES, seed=12)
    + batch(version, CASES // 2, seed=13)
)
_MAJORS = ("", "/v2", "/v3", ".v0", ".v1", ".v2", ".v2-unstable", "v2", "/v1", "x")


def check_case(d: Draw) -> tuple[str, str, str]:
    path = module_path(d)
    pm = module.split_path_version(path)[1] if d.integer(0, 1) else d.pick(_MAJORS)
    return path, version(d), pm


CHECKS = [(c["path"], c["version"], c["path_major"]) for c in VECTORS["checks"]] + batch(
    check_case, CASES, seed=14
)


def sort_case(d: Draw) -> list[list[str]]:
    out = []
    for _ in range(d.integer(0, 12)):
        path = d.pick(("a.b", "a.b/c", "b.c", "a.b/v2"))
        v = version(d) + d.pick(("", "", "/go.mod", "/x"))
        out.append([path, v])
    return out


SORTS = batch(sort_case, CASES // 20, seed=15)
QUOTES = batch(lambda d: d.text(PATH_CHARS, 8) + d.any_text(4), CASES // 2, seed=16)


@pytest.fixture(scope="module")
def oracle() -> Batch:
    b = Batch()
    b.add("paths", "module.paths", [{"P": p} for p in STRINGS])
    b.add(
        "check", "module.check", [{"Path": p, "Version": v, "PathMajor": m} for p, v, m in CHECKS]
    )
    b.add("sort", "module.sort", [{"List": s} for s in SORTS])
    b.add("quote", "go.quote", [{"S": s} for s in QUOTES])
    b.add("unicode", "go.unicode", [{}])
    return b


def paths(p: str) -> dict[str, Any]:
    return {
        "check_path": error_of(module.check_path, p),
        "check_import_path": error_of(module.check_import_path, p),
        "check_file_path": error_of(module.check_file_path, p),
        "split": list(module.split_path_version(p)),
        "escape_path": result_of(module.escape_path, p),
        "unescape_path": result_of(module.unescape_path, p),
        "escape_version": result_of(module.escape_version, p),
        "unescape_version": result_of(module.unescape_version, p),
        "canonical_version": module.canonical_version(p),
    }


def checks(c: tuple[str, str, str]) -> dict[str, Any]:
    path, v, pm = c
    return {
        "check": error_of(module.check, path, v),
        "check_path_major": error_of(module.check_path_major, v, pm),
        "match_path_major": module.match_path_major(v, pm),
    }


class TestAgainstGo:
    def test_paths(self, oracle: Batch) -> None:
        """Every path check, split and escape agrees with Go, error texts included."""
        assert not mismatches(STRINGS, oracle.answers("paths"), paths)

    def test_generated_paths_reach_valid_ones(self) -> None:
        """The generator reaches valid module paths often enough to test them."""
        valid = sum(error_of(module.check_path, p) is None for p in STRINGS)
        assert valid > len(STRINGS) // 10

    def test_check(self, oracle: Batch) -> None:
        """check and check_path_major agree with Go."""
        assert not mismatches(CHECKS, oracle.answers("check"), checks)

    def test_sort(self, oracle: Batch) -> None:
        """sort_module_versions gives Go's module.Sort order."""

        def ours(s: list[list[str]]) -> list[list[str]]:
            got = module.sort_module_versions(module.ModuleVersion(p, v) for p, v in s)
            return [[m.path, m.version] for m in got]

        assert not mismatches(SORTS, oracle.answers("sort"), ours)

    def test_quote(self, oracle: Batch) -> None:
        """Go's %q of strings and runes, as x/mod's messages use them."""

        def ours(s: str) -> dict[str, Any]:
            return {"quote": _gostr.quote(s), "runes": [_gostr.quote_rune(r) for r in s]}

        assert not mismatches(QUOTES, oracle.answers("quote"), ours)

    def test_unicode_tables(self, oracle: Batch) -> None:
        """The copied letter and print tables are Go's; on failure, regenerate _gostr.py's."""
        (answer,) = oracle.answers("unicode")
        go = answer.result

        def pairs(r: tuple[tuple[int, ...], tuple[int, ...]]) -> list[list[int]]:
            return [[lo, hi] for lo, hi in zip(*r, strict=True)]

        assert go["version"] == _gostr.UNICODE_VERSION
        assert pairs(_gostr.LETTER_RANGES) == go["letter"]
        assert pairs(_gostr.PRINT_RANGES) == go["print"]
