"""gomod.modfile against the vector table tests/vectors/modfile.json (checked against x/mod by
tests/differential/test_modfile.py), plus what JSON cannot carry to the oracle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.modfile import ModFile, ModFileError, Retract, module_path, parse_gomod

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "modfile.json").read_text()
)


def shape(f: ModFile) -> dict[str, Any]:
    return {
        "module": f.module,
        "deprecated": f.deprecated,
        "go": f.go,
        "toolchain": f.toolchain,
        "require": [[r.path, r.version, r.indirect] for r in f.require],
        "retract": [[r.low, r.high, r.rationale] for r in f.retract],
        "ignore": list(f.ignore),
        "exclude": [list(e) for e in f.exclude],
        "replace": [[r.old_path, r.old_version, r.new_path, r.new_version] for r in f.replace],
        "godebug": [list(g) for g in f.godebug],
        "tool": list(f.tool),
    }


class TestVectors:
    @pytest.mark.parametrize("case", VECTORS["parse"], ids=lambda c: c["why"])
    @pytest.mark.parametrize("mode", ["lax", "strict"])
    def test_parse(self, case: dict[str, Any], mode: str) -> None:
        """parse_gomod gives the table's result or modfile's error text, in both modes."""
        want = case[mode]
        try:
            got: dict[str, Any] = shape(parse_gomod(case["text"], strict=mode == "strict"))
        except ModFileError as e:
            got = {"error": str(e)}
        assert got == want


class TestDirect:
    def test_bytes_and_invalid_utf8(self) -> None:
        """Bytes are accepted; a byte that is not UTF-8 is an identifier rune, kept as is."""
        f = parse_gomod(b"module example.com/\xff\ngo 1.21\n")
        assert f.module == "example.com/\udcff"
        assert f.go == "1.21"
        assert module_path(b"module a\xff") == "a\udcff"

    def test_quoted_invalid_utf8_becomes_replacement(self) -> None:
        """Inside a quoted path an invalid byte unquotes to U+FFFD, as strconv.Unquote does."""
        assert parse_gomod(b'module "a\xff"\n').module == "a\ufffd"

    def test_errors_are_listed(self) -> None:
        """Every directive error is reported, one per line, and the error is InvalidInput."""
        with pytest.raises(InvalidInput) as e:
            parse_gomod("module a\nmodule b\ngo x\n")
        assert isinstance(e.value, ModFileError)
        assert e.value.errors == [
            "go.mod:2: repeated module statement",
            "go.mod:3: invalid go version 'x': must match format 1.23.0",
        ]

    def test_filename_in_errors(self) -> None:
        """The file name given is the one errors name."""
        with pytest.raises(ModFileError, match=r"^x/go\.mod:1: usage: module module/path$"):
            parse_gomod("module\n", filename="x/go.mod")

    def test_retract_rationale_and_interval(self) -> None:
        """Retractions keep their versions as written and their comment as rationale."""
        f = parse_gomod("module m\n// oops\nretract [v1.0.0, v1.0.5] // see #1\n")
        assert f.retract == (Retract("v1.0.0", "v1.0.5", "oops\nsee #1"),)

    @pytest.mark.parametrize(
        ("text", "path"),
        [
            ("module example.com/m\n", "example.com/m"),
            ("// module x\nmodule  y // c\n", "y"),
            ('module "a b"\n', "a b"),
            ('module "a\n', ""),
            ("module `a`\n", "a"),
            ("module `a\rb`\n", "ab"),
            ("module `a` x\n", ""),
            ("modulex y\n", ""),
            ("module\n", ""),
            ("go 1.21\n", ""),
        ],
    )
    def test_module_path(self, text: str, path: str) -> None:
        """module_path scans lines as modfile.ModulePath does."""
        assert module_path(text) == path
