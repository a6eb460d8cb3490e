"""Hypothesis strategies for module file trees, shared by the zip property and differential tests.

A :class:`Tree` is a module path, a version and a list of :class:`Entry` (regular files,
symlinks, empty directories, FIFOs) chosen to hit every rule of x/mod's zip package: VCS
directories, nested modules (``go.mod`` in any case, as a symlink too), ``vendor/`` at the root
and deeper, go lines before and after go1.24 (valid, lax, invalid, repeated), case-fold
collisions (Kelvin sign, long s), invalid, Windows-reserved and Unicode names, names that are not
UTF-8, ``LICENSE`` and ``go.mod`` over 16 MiB and trees over 500 MiB (sparse files, so they cost
no disk), and file-versus-directory clashes.

:func:`write_tree` puts a tree on disk; entries that the file system cannot hold next to earlier
ones (a file where a directory already is) are skipped, so the tree on disk is what both sides
see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seed_decorator
from hypothesis import strategies as st

from gomodproxy.gomod.modzip import MAX_GO_MOD, MAX_ZIP_FILE

__all__ = ["Entry", "Tree", "draw_many", "file_trees", "gomod_texts", "write_tree"]

T = TypeVar("T")

#: Directory prefixes: plain, vendored (root and nested), VCS, nested-module, case and Unicode.
DIRS = [
    "",
    "",
    "",
    "",
    "sub/",
    "pkg/",
    "pkg/x/",
    "vendor/",
    "vendor/a/",
    "vendor/a/b/",
    "pkg/vendor/",
    "pkg/vendor/x/",
    "a/b/vendor/",
    ".git/",
    "a/.hg/",
    ".svn/",
    ".bzr/",
    "nested/",
    "nested/deep/",
    "Nested/",
    "Sub/",
    "SUB/",
    "\u00e9/",
    "\u00c9/",
    "K/",
    "\u212a/",
    "testdata/",
    "x.go/",
    "con/",
    "bad'dir/",
    "trailing./",
]
#: File names that are fine on their own (some collide with each other or with the rules).
NAMES = [
    "a.go",
    "A.go",
    "b.go",
    "x.go",
    "x_test.go",
    "README.md",
    "LICENSE",
    "license",
    "LICENSE.txt",
    "go.mod",
    "go.mod",
    "GO.MOD",
    "Go.mod",
    "go.sum",
    "modules.txt",
    "vendor",
    "vendor.go",
    ".hg_archival.txt",
    ".gitignore",
    "com0.go",
    "\u00e9.go",
    "\u00c9.go",
    "k.go",
    "K.go",
    "\u212a.go",
    "s.go",
    "\u017f.go",
    "\u00df.go",
    "ss.go",
    "x y.go",
    "-dash.go",
    "~tilde",
    "a~1.go",
    ".hidden",
    "\u4e2d\u6587.go",
    "\U00011f04.go",
    "!bang",
    "a+b.go",
    "@at",
    "[x]{y}",
]
#: Names CheckFilePath refuses: quotes, reserved punctuation, Windows names, trailing dots,
#: controls, non-letters, non-UTF-8.
ODD_NAMES = [
    "bad.go'",
    "a:b.go",
    'q".go',
    "star*.go",
    "con.txt",
    "AUX",
    "com1.go",
    "x\u00a0y.go",
    "trailing.",
    "tab\t.go",
    "nl\n.go",
    "emoji\U0001f600.go",
    "\u0661.go",
    "...",
    "\udcff.go",
]
GO_LINES = [
    "1.16",
    "1.21.0",
    "1.23",
    "1.23.4",
    "1.24",
    "1.24.0",
    "1.25rc1",
    "1.24x",
    "v1.24.0",
    "v1.23.1",
    "1.21.1rc1",
    "1.24rc01",
    "2.0",
    "1.0",
    "01.24",
    "bogus",
]
MODULES = [
    *[("example.com/m", "v1.0.0")] * 20,
    ("example.com/m", "v0.1.2-pre+incompatible"),
    ("example.com/m/v2", "v2.3.4"),
    ("example.com/m/v2", "v1.0.0"),
    ("example.com/m", "v1.0"),
    ("example.com/m", "v2.0.0+incompatible"),
    ("gopkg.in/yaml.v2", "v2.4.0"),
    ("Example.com/m", "v1.0.0"),
]


@dataclass(frozen=True)
class Entry:
    """One thing in a tree: ``kind`` is file, symlink (``data`` is the target), dir or fifo.

    ``size`` > len(data) makes a sparse file of that size (content: data, then zeros).
    """

    path: str
    kind: str
    data: bytes = b""
    size: int = 0


@dataclass(frozen=True)
class Tree:
    module: str
    version: str
    entries: tuple[Entry, ...]


#: Other go.mod lines: ignored in lax mode, fine, or fatal to modfile.ParseLax.
GOMOD_EXTRAS = [
    "",
    "",
    "",
    "// comment\n",
    "go 1.24 1.25\n",
    "go\n",
    "go 1.22 // c\n",
    "go (\n\t1.24\n)\n",
    "toolchain go1.24.1\n",
    "require example.com/dep v1.2.3\n",
    "require (\n\texample.com/a v1.0.0\n\texample.com/b v0.1.0 // indirect\n)\n",
    "require example.com/dep\n",
    "require example.com/dep v1\n",
    "replace example.com/a => ../a\n",
    "retract v1.0.0 // oops\n",
    "retract [v1.0.0, bad]\n",
    "frobnicate 42\n",
    "/* c */\n",
    'module "example.com/quoted"\n',
    "(\n",
    "exclude example.com/x v1.0.0\n",
]


def gomod_texts(module: str = "example.com/m") -> st.SearchStrategy[bytes]:
    """go.mod contents: a module line, zero to two go lines (some broken) and other lines
    that leave ParseLax happy or make it fail; sometimes with CRLF line ends."""
    go_line = st.sampled_from(GO_LINES).map(lambda v: f"go {v}\n")
    extra = st.sampled_from(GOMOD_EXTRAS)
    text = st.tuples(st.lists(go_line, max_size=2), extra, st.booleans()).map(
        lambda t: (
            f"module {module}\n\n" + "".join(t[0]) + t[1]
            if t[2]
            else t[1] + f"module {module}\n" + "".join(t[0])
        )
    )
    return st.tuples(text, st.integers(0, 9)).map(
        lambda t: (t[0].replace("\n", "\r\n") if t[1] == 0 else t[0]).encode()
    )


@st.composite
def _entries(draw: st.DrawFn) -> Entry:
    d = draw(st.sampled_from(DIRS))
    name = draw(st.sampled_from(ODD_NAMES if draw(st.integers(0, 99)) < 4 else NAMES))
    path = d + name
    roll = draw(st.integers(0, 99))
    if roll < 6:
        target = draw(st.sampled_from(["a.go", "go.mod", "sub", "missing", "../outside", "."]))
        return Entry(path, "symlink", target.encode())
    if roll < 8:
        return Entry(path, "dir")
    if roll < 9 and name.lower() != "go.mod":  # reading a FIFO go.mod would block Go and us
        return Entry(path, "fifo")
    if roll < 11:
        # Sizes just over a limit fail before anything is written, so they cost nothing;
        # a go.mod or LICENSE of exactly 16 MiB is written (deflated zeros), so it stays rare.
        if name not in ("go.mod", "LICENSE"):
            return Entry(path, "file", b"", MAX_ZIP_FILE + 1)
        size = draw(st.sampled_from([MAX_GO_MOD + 1] * 4 + [MAX_GO_MOD]))
        return Entry(path, "file", b"", size)
    if name.lower() == "go.mod":
        return Entry(path, "file", draw(gomod_texts()))
    return Entry(path, "file", draw(st.binary(max_size=40)))


@st.composite
def file_trees(draw: st.DrawFn) -> Tree:
    """A module tree with a root go.mod most of the time and up to 14 more entries."""
    module, version = draw(st.sampled_from(MODULES))
    entries = []
    if draw(st.integers(0, 9)) < 8:
        entries.append(Entry("go.mod", "file", draw(gomod_texts(module))))
    entries += draw(st.lists(_entries(), max_size=14))
    return Tree(module, version, tuple(entries))


def write_tree(tree: Tree, root: Path) -> None:
    """Create ``tree`` under ``root`` (which must not exist), skipping impossible entries."""
    root.mkdir(parents=True)
    for e in tree.entries:
        target = os.path.join(os.fsencode(root), os.fsencode(e.path))
        parent = os.path.dirname(target)
        try:
            os.makedirs(parent, exist_ok=True)
            if os.path.lexists(target):
                continue
            if e.kind == "symlink":
                os.symlink(e.data, target)
            elif e.kind == "dir":
                os.mkdir(target)
            elif e.kind == "fifo":
                os.mkfifo(target)
            else:
                with open(target, "wb") as fh:
                    fh.write(e.data)
                    if e.size > len(e.data):
                        fh.truncate(e.size)
        except OSError:  # a file, dangling or looping symlink is in the way
            continue


def draw_many(strategy: st.SearchStrategy[T], n: int, *, seed: int = 0) -> list[T]:
    """Draw ``n`` examples of ``strategy`` deterministically, to batch them into one oracle
    call (independent Hypothesis draws, no shrinking)."""
    out: list[T] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed_decorator(seed)
    @given(strategy)
    def collect(x: T) -> None:
        out.append(x)

    collect()
    return out
