"""gomod.modzip: which files go into a module zip, and the checks on received zips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import modzip
from gomodproxy.gomod._fold import FOLD_RUNS, equal_fold, fold_runs_from_pairs, str_to_fold
from gomodproxy.gomod.modzip import File, FileKind

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "zip_create.json").read_text())
M, V = "example.com/m", "v1.0.0"


def vector_files(case: dict[str, Any]) -> list[File]:
    """The vector's files as modzip Files (declared size may differ from the data)."""
    out = []
    for f in case["files"]:
        data = f["data"].encode()
        size = f.get("size", len(data))
        out.append(File(f["path"], size, lambda data=data: (data,), FileKind(f["kind"])))
    return out


def pairs(errors: list[modzip.FileError]) -> list[list[str]]:
    return [[e.path, e.err] for e in errors]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["id"])
def test_create_vectors(case: dict[str, Any]) -> None:
    """check_files and select_files decide each vector as x/mod's CheckFiles and Create."""
    files = vector_files(case)
    cf = modzip.check_files(files)
    assert cf.valid == case.get("valid", [])
    assert pairs(cf.omitted) == case.get("omitted", [])
    assert pairs(cf.invalid) == case.get("invalid", [])
    assert (cf.size_error or "") == case.get("size_error", "")
    module, version = case.get("module", M), case.get("version", V)
    if case.get("error"):
        with pytest.raises(modzip.ZipError) as e:
            modzip.select_files(module, version, files)
        assert str(e.value) == case["error"]
    else:
        assert [f.path for f in modzip.select_files(module, version, files)] == cf.valid


class TestGoLang:
    @pytest.mark.parametrize(
        ("gomod", "lang"),
        [
            ("module m\ngo 1.24\n", "go1.24"),
            ("go 1.21.3\n", "go1.21"),
            ("go 1.21rc2\n", "go1.21"),
            ("go 1.0\n", "go1"),
            ("go 2.0\n", "go2.0"),
            ("go 1.24x\n", "go1.24"),
            ("go v1.24.0\n", "go1.24"),
            ("go 1.24 // comment\n", "go1.24"),
            ("  go   1.22  \n", "go1.22"),
            ("module m\r\ngo 1.24\r\n", "go1.24"),
            ("go\t1.24\n", "go1.24"),
            ("go 1.21.1rc1\n", ""),
            ("go 1.21rc01\n", ""),
            ("go 1.21rc0\n", "go1.21"),
            ("go 01.21\n", ""),
            ("go v1.21\n", ""),
            ("go 1\n", ""),
            ("go\n", ""),
            ("go 1.21 1.22\n", ""),
            ("go 1.21\ngo 1.21\n", ""),
            ("module m\n", ""),
            ("// go 1.24\n", ""),
            ("", ""),
        ],
    )
    def test_lang(self, gomod: str, lang: str) -> None:
        """The go line yields version.Lang as x/mod's parseGoVers computes it."""
        assert modzip.go_lang(gomod.encode()) == lang

    def test_unreadable_root_gomod_is_ignored(self) -> None:
        """A root go.mod that cannot be read leaves the pre-1.24 vendoring rule."""

        def fail() -> list[bytes]:
            raise OSError("unreadable")

        files = [File("go.mod", 1, fail), File.from_bytes("vendor/modules.txt", b"")]
        assert modzip.check_files(files).valid == ["go.mod", "vendor/modules.txt"]


class TestIsVendoredPackage:
    @pytest.mark.parametrize(
        ("name", "old", "new"),
        [
            ("vendor/modules.txt", False, True),
            ("vendor/top.go", False, False),
            ("vendor/a/b.go", True, True),
            ("pkg/vendor/vendor.go", True, False),
            ("pkg/vendor/x/y.go", True, True),
            ("a/b/vendor/c.go", True, False),
            ("vendorx/a/b.go", False, False),
            ("x/vendor", False, False),
        ],
    )
    def test_rule(self, name: str, old: bool, new: bool) -> None:
        """Before go1.24 Go's offset bug applies; from go1.24 the first /vendor/ counts."""
        assert modzip.is_vendored_package(name, "") is old
        assert modzip.is_vendored_package(name, "go1.23") is old
        assert modzip.is_vendored_package(name, "go1.24") is new
        assert modzip.is_vendored_package(name, "go2.0") is new


class TestCheckZipEntries:
    P = f"{M}@{V}/"

    def check(self, entries: list[tuple[str, int]]) -> modzip.CheckedFiles:
        return modzip.check_zip_entries(M, V, entries)

    def test_valid_and_skipped(self) -> None:
        """The bare prefix and directory entries are skipped; files are valid."""
        cf = self.check([(self.P, 0), (self.P + "a/", 0), (self.P + "a/b.go", 3)])
        assert cf.valid == [self.P + "a/b.go"]
        assert cf.err() is None

    @pytest.mark.parametrize(
        ("name", "err"),
        [
            ("other/x.go", 'path does not have prefix "example.com/m@v1.0.0/"'),
            ("@P/./x.go", "file path is not clean"),
            ("@P//", "file path is not clean"),
            ("@P/a\x00.go", "malformed file path \"a\\x00.go\": invalid char '\\x00'"),
            ("@P/\udcff.go", 'malformed file path "\\xff.go": invalid UTF-8'),
            ("@P/sub/go.mod", "go.mod file not in module root directory"),
            ("@P/sub/Go.Mod", "go.mod file not in module root directory"),
            ("@P/GO.MOD", "go.mod files must have lowercase names"),
        ],
    )
    def test_invalid_names(self, name: str, err: str) -> None:
        """Each bad entry is reported with Go's text under its full name."""
        full = name.replace("@P/", self.P)
        cf = self.check([(full, 0)])
        assert pairs(cf.invalid) == [[full, err]]
        assert cf.err() == f"{full}: {err}"

    def test_collisions(self) -> None:
        """Case-fold collisions and file/directory clashes are invalid, dirs may repeat."""
        cf = self.check(
            [(self.P + "a/", 0), (self.P + "a/", 0), (self.P + "a/x", 0), (self.P + "A/y", 0)]
        )
        assert pairs(cf.invalid) == [
            [self.P + "A/y", 'case-insensitive file name collision: "a" and "A"']
        ]

    def test_collision_above_a_repeated_directory(self) -> None:
        """Each file under a directory whose parent collides is reported, not just the first
        (a directory seen before is only skipped once its walk to the root was clean)."""
        cf = self.check([(self.P + "A/f", 0), (self.P + "a/b/f", 0), (self.P + "a/b/g", 0)])
        assert pairs(cf.invalid) == [
            [self.P + "a/b/f", 'case-insensitive file name collision: "A" and "a"'],
            [self.P + "a/b/g", 'case-insensitive file name collision: "A" and "a"'],
        ]

    def test_sizes(self) -> None:
        """go.mod and LICENSE are limited to 16 MiB, the total to 500 MiB (uint64 too)."""
        cf = self.check(
            [
                (self.P + "go.mod", modzip.MAX_GO_MOD + 1),
                (self.P + "LICENSE", modzip.MAX_LICENSE + 1),
                (self.P + "big", modzip.MAX_ZIP_FILE),
                (self.P + "neg", 1 << 63),
            ]
        )
        assert pairs(cf.invalid) == [
            [self.P + "go.mod", "go.mod file too large (max size is 16777216 bytes)"],
            [self.P + "LICENSE", "LICENSE file too large (max size is 16777216 bytes)"],
        ]
        assert cf.size_error == (
            "total uncompressed size of module contents too large (max size is 524288000 bytes)"
        )
        assert cf.err() == cf.size_error

    def test_zip_size(self) -> None:
        """A zip file over 500 MiB is refused with Go's text; at the limit it is fine."""
        modzip.check_zip_size(modzip.MAX_ZIP_FILE)
        with pytest.raises(InvalidInput) as e:
            modzip.check_zip_size(modzip.MAX_ZIP_FILE + 1)
        assert str(e.value) == (
            "module zip file is too large (524288001 bytes; limit is 524288000 bytes)"
        )

    def test_module_version(self) -> None:
        """check_module_version wants a canonical version valid for the path."""
        modzip.check_module_version(M, "v1.2.3")
        with pytest.raises(InvalidInput, match="not canonical"):
            modzip.check_module_version(M, "v1.2")
        with pytest.raises(InvalidInput, match="malformed module path"):
            modzip.check_module_version("Example.com", "v1.2.3")


class TestFold:
    def test_orbits(self) -> None:
        """Kelvin sign and long s fold with k and s; ß does not fold to ss."""
        assert str_to_fold("K\u212ak\u017fSs") == "kkksss"
        assert equal_fold("\u00c9t\u00c9", "\u00e9T\u00e9")
        assert not equal_fold("\u00df", "ss")

    def test_ascii_fast_path(self) -> None:
        """Lowercase ASCII is its own key."""
        s = "already/lower.go"
        assert str_to_fold(s) is s

    def test_runs_round_trip(self) -> None:
        """The run encoding rebuilds itself from its expanded pairs."""
        expanded = [(r, r + d) for lo, hi, st, d in FOLD_RUNS for r in range(lo, hi + 1, st)]
        assert fold_runs_from_pairs(expanded) == list(FOLD_RUNS)


class TestModel:
    def test_file_error_text(self) -> None:
        """FileError prints as Go's "path: err"."""
        assert str(modzip.FileError("a", "b")) == "a: b"

    def test_zip_error_with_path(self) -> None:
        """ZipError puts the path between verb and error, as x/mod's zipError."""
        assert str(modzip.ZipError("create zip", "x", "/d")) == "create zip /d: x"
        assert str(modzip.ZipError("create zip", "x")) == "create zip: x"

    def test_from_bytes(self) -> None:
        """File.from_bytes declares the data's length and yields the data."""
        f = File.from_bytes("a", b"xyz")
        assert (f.size, b"".join(f.open()), f.kind) == (3, b"xyz", FileKind.REGULAR)


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("", "."),
        ("a/..", "."),
        ("../a", "../a"),
        ("../../a/b/..", "../../a"),
        ("/../a", "/a"),
        ("/", "/"),
        ("//a//b/", "/a/b"),
        ("a/../../b", "../b"),
        ("./a/./b", "a/b"),
    ],
)
def test_clean_is_go_path_clean(path: str, clean: str) -> None:
    """_clean gives Go's path.Clean results."""
    assert modzip._clean(path) == clean
