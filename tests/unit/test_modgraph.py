"""go.sum and go.work reading and the module graph walk (gomod.modgraph)."""

from __future__ import annotations

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.modfile import ModFileError, Replace
from gomodproxy.gomod.modgraph import (
    EMPTY_GOMOD_HASH,
    ModuleGraph,
    SumLine,
    parse_gosum,
    parse_gowork,
)
from gomodproxy.gomod.module import ModuleVersion as MV

H = "h1:" + "A" * 43 + "="


class TestParseGosum:
    def test_lines_blank_lines_and_gomod_suffix(self) -> None:
        """Blank lines are skipped, ``/go.mod`` marks go.mod-only lines, order is kept."""
        text = f"a.com/x v1.0.0 {H}\n\n  \na.com/x v1.0.0/go.mod {H}\nb.com/y v0.1.0/go.mod {H}"
        assert parse_gosum(text.encode()) == [
            SumLine("a.com/x", "v1.0.0", False, H),
            SumLine("a.com/x", "v1.0.0", True, H),
            SumLine("b.com/y", "v0.1.0", True, H),
        ]

    def test_the_old_empty_gomod_hash_is_dropped(self) -> None:
        """The hash an old bug wrote for non-modules is ignored, as readGoSum does."""
        assert parse_gosum(f"a.com/x v1.0.0/go.mod {EMPTY_GOMOD_HASH}\n") == []

    def test_wrong_number_of_fields(self) -> None:
        """The go command's message, with file and line."""
        with pytest.raises(InvalidInput) as e:
            parse_gosum(f"a.com/x v1.0.0 {H}\na.com/x v1.0.0\n", "dir/go.sum")
        assert str(e.value) == "malformed go.sum:\ndir/go.sum:2: wrong number of fields 2"


class TestParseGowork:
    def test_use_and_replace_lines_and_blocks(self) -> None:
        """``use`` dirs (quoted or not) and ``replace`` in both forms; other verbs ignored."""
        text = (
            'go 1.22\n\nuse ./a\nuse (\n\t./b\n\t"./c d"\n)\n'
            "replace x.com/m v1.0.0 => y.com/m v1.1.0\n"
            "replace (\n\tz.com/m => ../z\n)\ntoolchain go1.22.1\n"
        )
        work = parse_gowork(text.encode())
        assert work.use == ("./a", "./b", "./c d")
        assert work.replace == (
            Replace("x.com/m", "v1.0.0", "y.com/m", "v1.1.0"),
            Replace("z.com/m", "", "../z", ""),
        )

    def test_errors_name_file_and_line(self) -> None:
        """Bad directives are collected with their position."""
        with pytest.raises(ModFileError) as e:
            parse_gowork("use a b\nreplace x.com/m\n", "w/go.work")
        assert e.value.errors[0] == "w/go.work:1: usage: use local/dir"
        assert e.value.errors[1].startswith("w/go.work:2: usage: replace")

    def test_syntax_error(self) -> None:
        """A lexical error is reported as modfile reports it."""
        with pytest.raises(ModFileError) as e:
            parse_gowork('use "unterminated\n')
        assert e.value.errors[0].startswith("go.work:1:")


def _gomod(*reqs: str) -> bytes:
    return ("module m\n\n" + "".join(f"require {r}\n" for r in reqs)).encode()


class TestModuleGraph:
    def test_walk_selects_the_highest_version_reached(self) -> None:
        """Every reachable version is visited; the build list has the maximum per path."""
        g = ModuleGraph([MV("a.com/a", "v1.0.0"), MV("b.com/b", "v1.0.0")])
        assert g.pending() == [MV("a.com/a", "v1.0.0"), MV("b.com/b", "v1.0.0")]
        assert g.pending() == []
        g.provide(MV("a.com/a", "v1.0.0"), _gomod("c.com/c v1.2.0"))
        g.provide(MV("b.com/b", "v1.0.0"), _gomod("c.com/c v1.10.0", "a.com/a v1.0.0"))
        assert g.pending() == [MV("c.com/c", "v1.2.0"), MV("c.com/c", "v1.10.0")]
        g.provide(MV("c.com/c", "v1.2.0"), _gomod())
        g.provide(MV("c.com/c", "v1.10.0"), _gomod())
        assert g.pending() == []
        assert g.build_list() == [
            MV("a.com/a", "v1.0.0"),
            MV("b.com/b", "v1.0.0"),
            MV("c.com/c", "v1.10.0"),
        ]
        assert len(g.visited()) == 4

    def test_replacements_by_module_and_by_directory(self) -> None:
        """A replaced version's go.mod comes from its replacement (asked once); a directory
        replacement ends the walk; the build list keeps the original paths."""
        g = ModuleGraph.from_replaces(
            [MV("a.com/a", "v1.0.0"), MV("d.com/d", "v1.0.0"), MV("e.com/e", "v1.0.0")],
            [
                Replace("a.com/a", "", "fork.com/a", "v1.0.1"),
                Replace("e.com/e", "v1.0.0", "fork.com/a", "v1.0.1"),
                Replace("d.com/d", "v1.0.0", "../d", ""),
            ],
        )
        assert g.pending() == [MV("fork.com/a", "v1.0.1")]
        assert g.resolve(MV("d.com/d", "v1.0.0")) is None
        assert g.resolve(MV("b.com/b", "v1.0.0")) == MV("b.com/b", "v1.0.0")
        assert [m.path for m in g.build_list()] == ["a.com/a", "d.com/d", "e.com/e"]

    def test_bad_gomod_raises(self) -> None:
        """A go.mod that does not parse is an error the caller reports."""
        g = ModuleGraph([MV("a.com/a", "v1.0.0")])
        with pytest.raises(ModFileError):
            g.provide(MV("a.com/a", "v1.0.0"), b"require (\n")
