"""Properties of module zips and h1 hashes that hold for any file tree."""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import dirhash, modzip
from gomodproxy.gomod._fold import equal_fold, str_to_fold
from gomodproxy.gomod.modzip import File, FileKind
from gomodproxy.localfs.zipfiles import (
    check_zip,
    create_zip,
    create_zip_from_dir,
    hash_zip,
    list_dir,
)
from tests.property.filetrees import Tree, file_trees, write_tree

_counter = itertools.count()
_TMP = Path(tempfile.mkdtemp(prefix="zip-props-"))

KINDS = {"file": FileKind.REGULAR, "symlink": FileKind.SYMLINK, "dir": FileKind.DIR}


def memory_files(tree: Tree) -> list[File]:
    """The tree as in-memory Files (FIFOs as OTHER), as a git-fed caller would pass them."""
    return [
        File(
            e.path,
            max(e.size, len(e.data)),
            lambda e=e: (e.data,),
            KINDS.get(e.kind, FileKind.OTHER),
        )
        for e in tree.entries
        if e.size == 0  # sparse giants are for the directory tests
    ]


def try_create(dest: Path, tree: Tree, files: list[File]) -> str | None:
    try:
        return create_zip(dest, tree.module, tree.version, files)
    except modzip.ZipError:
        return None


@settings(max_examples=60, deadline=None)
@given(file_trees(), st.randoms(use_true_random=False))
def test_hash_ignores_input_order(tree: Tree, rnd: object) -> None:
    """A valid file set gives the same h1 whatever order its files come in."""
    files = memory_files(tree)
    n = next(_counter)
    first = try_create(_TMP / f"o{n}a.zip", tree, files)
    shuffled = list(files)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    second = try_create(_TMP / f"o{n}b.zip", tree, shuffled)
    if first is not None and second is not None:
        assert first == second


@settings(max_examples=60, deadline=None)
@given(file_trees())
def test_created_zip_hashes_and_checks(tree: Tree) -> None:
    """A zip we create hashes to the h1 we returned, passes CheckZip and holds the valid files."""
    files = memory_files(tree)
    dest = _TMP / f"c{next(_counter)}.zip"
    h = try_create(dest, tree, files)
    if h is None:
        return
    assert hash_zip(dest) == h
    cf = check_zip(dest, tree.module, tree.version)
    prefix = f"{tree.module}@{tree.version}/"
    assert cf.valid == [prefix + p for p in modzip.check_files(files).valid]


@settings(max_examples=60, deadline=None)
@given(file_trees())
def test_every_file_lands_in_one_list(tree: Tree) -> None:
    """check_files accounts for every input path, invents none, and errs iff it must."""
    files = memory_files(tree)
    cf = modzip.check_files(files)
    listed = Counter(cf.valid) + Counter(e.path for e in cf.omitted + cf.invalid)
    given_paths = Counter(f.path for f in files)
    # Go records one error per path, so a path given twice may be listed once.
    assert set(listed) == set(given_paths)
    assert all(listed[p] <= given_paths[p] for p in listed)
    assert len(cf.valid) == len(cf.files)
    assert (cf.err() is None) == (not cf.invalid and cf.size_error is None)


@settings(max_examples=40, deadline=None)
@given(file_trees())
def test_dir_zip_is_create_of_listed_files(tree: Tree) -> None:
    """CreateFromDir equals Create over the files the directory walk lists."""
    n = next(_counter)
    root = _TMP / f"d{n}" / "m"
    write_tree(tree, root)
    try:
        from_dir = create_zip_from_dir(_TMP / f"d{n}a.zip", tree.module, tree.version, str(root))
    except modzip.ZipError:
        from_dir = None
    files, _ = list_dir(str(root))
    assert try_create(_TMP / f"d{n}b.zip", tree, files) == from_dir


_names = st.text(st.characters(exclude_characters="\n", exclude_categories=("Cs",)), max_size=8)


@given(st.dictionaries(_names, st.binary(max_size=16), max_size=6), st.randoms())
def test_hash1_forms_agree(files: dict[str, bytes], rnd: object) -> None:
    """hash1, hash1_bytes and hash1_digests agree and ignore the order of names."""
    names = list(files)
    rnd.shuffle(names)  # type: ignore[attr-defined]
    by_open = dirhash.hash1(names, lambda n: (files[n],))
    digests = [(n, hashlib.sha256(d).hexdigest()) for n, d in files.items()]
    assert by_open == dirhash.hash1_bytes(files) == dirhash.hash1_digests(digests)


@given(st.text(max_size=3).map(lambda s: s + "\n"))
def test_newline_names_always_refused(name: str) -> None:
    """Any name with a newline is refused."""
    try:
        dirhash.hash1_bytes({name: b""})
    except InvalidInput:
        return
    raise AssertionError("accepted a name with a newline")


@given(st.text(max_size=8), st.text(max_size=8))
def test_fold_key_properties(a: str, b: str) -> None:
    """The fold key is idempotent, and equal keys mean the same after full lowering in Go's
    sense: equal_fold is reflexive, symmetric, and ignores ASCII case."""
    assert str_to_fold(str_to_fold(a)) == str_to_fold(a)
    assert equal_fold(a, a)
    assert equal_fold(a, b) == equal_fold(b, a)
    assert equal_fold(a, a.swapcase()) or not a.isascii()
