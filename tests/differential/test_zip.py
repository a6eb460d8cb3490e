"""Module zips and h1 hashes against golang.org/x/mod (zip.CreateFromDir, Create, CheckZip,
dirhash.HashZip), on generated file trees and entry lists, batched into one oracle call each.

Zips are compared by h1 and sorted entry names (Go's deflate bytes differ from zlib's), and by
Go's check lists and error texts.
"""

from __future__ import annotations

import base64
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from gomodproxy.cli.main import main
from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import dirhash
from gomodproxy.gomod._fold import FOLD_RUNS, fold_runs_from_pairs
from gomodproxy.gomod.modzip import (
    CheckedFiles,
    File,
    FileKind,
    ZipError,
    check_module_version,
    check_zip_entries,
)
from gomodproxy.localfs.zipfiles import (
    check_dir,
    check_zip,
    create_zip,
    create_zip_from_dir,
    entry_name,
    hash_zip,
    open_zip,
)
from tests.differential.oracle import SCALE, ask
from tests.property.filetrees import Tree, draw_many, file_trees, write_tree

N_TREES = 300 * SCALE
VECTORS = Path(__file__).parents[1] / "vectors" / "zip_create.json"


def go_text(s: str) -> str:
    """``s`` as it comes back through Go's JSON: each byte that is not UTF-8 becomes U+FFFD."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def summary(cf: CheckedFiles) -> dict[str, Any]:
    return {
        "valid": [go_text(v) for v in cf.valid],
        "omitted": [{"path": go_text(e.path), "err": go_text(e.err)} for e in cf.omitted],
        "invalid": [{"path": go_text(e.path), "err": go_text(e.err)} for e in cf.invalid],
        "size_error": cf.size_error or "",
    }


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return sorted(i.filename for i in z.infolist())


def test_fold_table_is_gos() -> None:
    """The case-fold table equals Go's unicode.SimpleFold orbits (strToFold)."""
    (answer,) = ask("zip.fold_table", [{}])
    runs = fold_runs_from_pairs((r, f) for r, f in answer.result)
    assert runs == list(FOLD_RUNS), "new table:\n" + "\n".join(f"    {r}," for r in runs)


def test_vectors_agree_with_go(tmp_path: Path) -> None:
    """Every hand-written vector in zip_create.json is what x/mod's CheckFiles/Create say."""
    cases = json.loads(VECTORS.read_text())["cases"]
    args = [
        {
            "Path": c.get("module", "example.com/m"),
            "Version": c.get("version", "v1.0.0"),
            "Out": str(tmp_path / f"{i}.zip"),
            "Files": [
                {
                    "P": f["path"],
                    "Kind": f["kind"],
                    "Size": f.get("size", len(f["data"].encode())),
                    "Data": _b64(f["data"].encode()),
                }
                for f in c["files"]
            ],
        }
        for i, c in enumerate(cases)
    ]
    for c, a, answer in zip(cases, args, ask("zip.create", args), strict=True):
        check = answer.result["check"]
        assert check["valid"] == c.get("valid", []), c["id"]
        assert [[e["path"], e["err"]] for e in check["omitted"]] == c.get("omitted", []), c["id"]
        assert [[e["path"], e["err"]] for e in check["invalid"]] == c.get("invalid", []), c["id"]
        assert check["size_error"] == c.get("size_error", ""), c["id"]
        assert answer.error == c.get("error"), c["id"]
        if "hash" in c:
            assert answer.result["hash"] == c["hash"], c["id"]
        if answer.error is None and not c.get("nohash"):
            files = [
                File(f["P"], f["Size"], lambda f=f: (_unb64(f["Data"]),), FileKind(f["Kind"]))
                for f in a["Files"]
            ]
            ours = create_zip(tmp_path / f"py{c['id']}.zip", a["Path"], a["Version"], files)
            assert ours == answer.result["hash"], c["id"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _ours(tree: Tree, root: Path, out: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"check": summary(check_dir(str(root)))}
    try:
        res["hash"] = create_zip_from_dir(out, tree.module, tree.version, str(root))
    except ZipError as e:
        res["error"] = go_text(str(e))
    return res


def test_create_from_dir_matches_go(tmp_path: Path) -> None:
    """CreateFromDir over generated trees: same check lists, same error text or same zip."""
    trees = draw_many(file_trees(), N_TREES, seed=3)
    ours, args = [], []
    for i, tree in enumerate(trees):
        root = tmp_path / f"t{i}" / "m"
        write_tree(tree, root)
        ours.append(_ours(tree, root, tmp_path / f"py{i}.zip"))
        args.append(
            {
                "Path": tree.module,
                "Version": tree.version,
                "Dir": str(root),
                "Out": str(tmp_path / f"go{i}.zip"),
            }
        )
    answers = ask("zip.create_from_dir", args)
    made = 0
    for i, (tree, mine, answer) in enumerate(zip(trees, ours, answers, strict=True)):
        where = f"tree {i}: {tree}"
        assert mine["check"] == answer.result["check"], where
        assert mine.get("error") == answer.error, where
        if answer.error is None:
            made += 1
            assert mine["hash"] == answer.result["hash"], where
            assert zip_names(tmp_path / f"py{i}.zip") == answer.result["files"], where
            # Go's zip, hashed and checked by us.
            go_zip = tmp_path / f"go{i}.zip"
            assert hash_zip(go_zip) == answer.result["hash"], where
            check_zip(go_zip, tree.module, tree.version)
    assert made >= len(trees) // 5, "too few valid trees: the strategy lost its balance"


def test_mod_hash_cli_on_go_zips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``gomodproxy mod hash`` prints Go's h1 for zips Go made, and ``--gomod`` Go's go.mod h1."""
    trees = draw_many(file_trees(), 40, seed=5)
    args = []
    for i, tree in enumerate(trees):
        root = tmp_path / f"t{i}" / "m"
        write_tree(tree, root)
        args.append(
            {
                "Path": tree.module,
                "Version": tree.version,
                "Dir": str(root),
                "Out": str(tmp_path / f"go{i}.zip"),
            }
        )
    checked = 0
    for i, answer in enumerate(ask("zip.create_from_dir", args)):
        if answer.error is not None:
            continue
        assert main(["mod", "hash", str(tmp_path / f"go{i}.zip")]) == 0
        assert capsys.readouterr().out == answer.result["hash"] + "\n"
        checked += 1
    assert checked > 0
    gomod = tmp_path / "go.mod"
    gomod.write_bytes(b"module example.com/m\n")
    assert main(["mod", "hash", "--gomod", str(gomod)]) == 0
    (answer,) = ask("dirhash.hash1", [{"Names": ["go.mod"], "Data": [_b64(gomod.read_bytes())]}])
    assert capsys.readouterr().out == answer.result + "\n"
    assert answer.result == dirhash.gomod_hash(gomod.read_bytes())


@st.composite
def zip_entry_lists(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """A module and the entry names of a zip for it: mostly prefixed tree paths, plus
    directory entries, the bare prefix, foreign prefixes and duplicates."""
    tree = draw(file_trees())
    prefix = f"{tree.module}@{tree.version}/"
    names = []
    for e in tree.entries:
        if "\udcff" in e.path:  # zipfile cannot write a name that is not UTF-8
            continue
        roll = draw(st.integers(0, 99))
        if roll < 5:
            names.append(prefix)
        elif roll < 12:
            names.append(prefix + e.path.rsplit("/", 1)[0] + "/")
        elif roll < 15:
            names.append("other.com/m@v1.0.0/" + e.path)
        elif roll < 18:
            names.append(prefix + "./" + e.path)
        names.append(prefix + e.path)
    return tree.module, tree.version, names


def test_check_zip_matches_go(tmp_path: Path) -> None:
    """CheckZip over generated entry lists: same valid and invalid lists, same error text."""
    cases = draw_many(zip_entry_lists(), N_TREES, seed=4)
    args = []
    for i, (module, version, names) in enumerate(cases):
        path = tmp_path / f"{i}.zip"
        with zipfile.ZipFile(path, "w") as z, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names are part of the test
            for n in names:
                z.writestr(n, n.encode())
        args.append({"Path": module, "Version": version, "Zip": str(path)})
    for (module, version, names), a, answer in zip(
        cases, args, ask("zip.check", args), strict=True
    ):
        where = f"{module}@{version}: {names}"
        assert _our_check(a["Zip"], module, version) == (answer.result, answer.error), where


def test_check_zip_repeated_directories_match_go(tmp_path: Path) -> None:
    """Deep trees repeat directories; a collision above one is reported for every file."""
    module, version = "example.com/m", "v1.0.0"
    p = f"{module}@{version}/"
    cases = [
        [p + "A/f", p + "a/b/f", p + "a/b/g", p + "a/b/c/h"],
        [p + "x/y/z/f", p + "x/y/z/g", p + "x/Y/h", p + "x/y/i"],
        [p + "d/e/", p + "d/e/f", p + "d/e", p + "d/e/g/h"],
    ]
    args = []
    for i, names in enumerate(cases):
        path = tmp_path / f"{i}.zip"
        with zipfile.ZipFile(path, "w") as z:
            for n in names:
                z.writestr(n, n.encode())
        args.append({"Path": module, "Version": version, "Zip": str(path)})
    for names, a, answer in zip(cases, args, ask("zip.check", args), strict=True):
        assert _our_check(a["Zip"], module, version) == (answer.result, answer.error), names


def _our_check(path: str, module: str, version: str) -> tuple[dict[str, Any], str | None]:
    """Our CheckZip record and error text, shaped as the oracle answers."""
    try:
        check_module_version(module, version)
    except InvalidInput as e:
        return summary(CheckedFiles()), str(e)
    with open_zip(path) as z:
        cf = check_zip_entries(
            module, version, ((entry_name(i), i.file_size) for i in z.infolist())
        )
    err = cf.err()
    if err is None:
        check_zip(path, module, version)
    else:
        with pytest.raises(InvalidInput) as e:
            check_zip(path, module, version)
        assert str(e.value) == err
    return summary(cf), None if err is None else go_text(err)


def test_go_reads_our_zips(tmp_path: Path) -> None:
    """Go's dirhash.HashZip of the zips we write equals the h1 we returned."""
    trees = draw_many(file_trees(), 60, seed=6)
    ours, args = [], []
    for i, tree in enumerate(trees):
        root = tmp_path / f"t{i}" / "m"
        write_tree(tree, root)
        try:
            h = create_zip_from_dir(tmp_path / f"{i}.zip", tree.module, tree.version, str(root))
        except ZipError:
            continue
        ours.append(h)
        args.append({"Zip": str(tmp_path / f"{i}.zip")})
    assert len(ours) > 10
    assert [a.result for a in ask("dirhash.hash_zip", args)] == ours
