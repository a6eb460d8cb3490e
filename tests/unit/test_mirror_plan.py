"""What mirror and export select: sources read into a plan, export selections."""

from __future__ import annotations

from pathlib import Path

import pytest

from gomodproxy.bundle.export import Selection
from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.modgraph import SumLine
from gomodproxy.gomod.module import ModuleVersion as MV
from gomodproxy.mirror.plan import plan_from_texts, read_sources

H = "h1:" + "D" * 43 + "="
GOMOD = (
    "module example.com/app\n\ngo 1.22\n\nrequire a.com/x v1.0.0\n\n"
    "replace a.com/x => b.com/x v1.1.0\n"
)


class TestReadSources:
    def test_each_kind(self, tmp_path: Path) -> None:
        """go.sum, go.mod, go.work, directories and MODULE@QUERY all add to one plan."""
        (tmp_path / "m").mkdir()
        (tmp_path / "m" / "go.mod").write_text(GOMOD)
        (tmp_path / "s").mkdir()
        (tmp_path / "s" / "go.sum").write_text(f"c.com/y v1.0.0 {H}\nc.com/y v1.0.0/go.mod {H}\n")
        (tmp_path / "go.work").write_text("go 1.22\nuse ./m\nreplace a.com/x => ./local\n")
        plan = read_sources([str(tmp_path / "m"), str(tmp_path / "s"), "d.com/z@latest"])
        assert plan.roots == [MV("a.com/x", "v1.0.0")]
        assert plan.sums == {MV("c.com/y", "v1.0.0"): {"zip": H, "mod": H}}
        assert plan.queries == [("d.com/z", "latest")]
        work = read_sources([str(tmp_path / "go.work")])
        assert work.roots == [MV("a.com/x", "v1.0.0")]
        assert [r.new_path for r in work.replaces] == ["b.com/x", "./local"]
        assert read_sources([str(tmp_path)]).roots == work.roots  # a dir with a go.work

    def test_bad_sources(self, tmp_path: Path) -> None:
        """Unknown files, empty directories, empty queries and bad paths are precise errors."""
        (tmp_path / "empty").mkdir()
        (tmp_path / "notes.txt").write_text("x")
        for src, message in [
            (str(tmp_path / "empty"), "no go.work, go.sum or go.mod"),
            (str(tmp_path / "notes.txt"), "not a go.sum, go.mod, go.work"),
            ("example.com/m@", "empty query"),
            (str(tmp_path / "missing.mod"), "not a go.sum"),
        ]:
            with pytest.raises(InvalidInput, match=message):
                read_sources([src])

    def test_texts(self) -> None:
        """The admin endpoint's body: go.sum and go.mod contents and queries."""
        plan = plan_from_texts(gosum=f"c.com/y v1.0.0 {H}\n", gomod=GOMOD, modules=["d.com/z@v1"])
        assert plan.sums == {MV("c.com/y", "v1.0.0"): {"zip": H}}
        assert plan.roots == [MV("a.com/x", "v1.0.0")]
        assert plan.queries == [("d.com/z", "v1")]


class TestSelection:
    def test_everything_by_default(self) -> None:
        """No criterion: every version with all its files."""
        assert Selection().wants("a.com/x", "v1.0.0") == {"info", "mod", "zip"}

    def test_gosum_and_prefix(self) -> None:
        """go.sum lines pick versions (go.mod-only lines without the zip); prefixes match
        whole path elements."""
        sel = Selection(
            gosum=(SumLine("a.com/x", "v1.0.0", True, H), SumLine("a.com/x/y", "v1.0.0", False, H)),
            prefixes=("a.com/x",),
        )
        assert sel.wants("a.com/x", "v1.0.0") == {"info", "mod"}
        assert sel.wants("a.com/x/y", "v1.0.0") == {"info", "mod", "zip"}
        assert sel.wants("a.com/x", "v2.0.0") is None
        assert Selection(prefixes=("a.com/x",)).wants("a.com/xy", "v1.0.0") is None
