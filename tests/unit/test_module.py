"""gomod.module against the vector table tests/vectors/module.json and direct cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import _gostr, module
from gomodproxy.gomod.module import (
    InvalidPathError,
    InvalidVersionError,
    ModuleError,
    ModuleVersion,
)
from tests.outcomes import error_of, result_of

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "module.json").read_text()
)


class TestPathTable:
    @pytest.mark.parametrize("case", VECTORS["paths"], ids=lambda c: ascii(c["p"]))
    def test_every_function(self, case: dict[str, Any]) -> None:
        """Each path function gives the table's result and Go's exact error text."""
        p = case["p"]
        assert error_of(module.check_path, p) == case["check_path"]
        assert error_of(module.check_import_path, p) == case["check_import_path"]
        assert error_of(module.check_file_path, p) == case["check_file_path"]
        assert list(module.split_path_version(p)) == case["split"]
        assert result_of(module.escape_path, p) == case["escape_path"]
        assert result_of(module.unescape_path, p) == case["unescape_path"]
        assert result_of(module.escape_version, p) == case["escape_version"]
        assert result_of(module.unescape_version, p) == case["unescape_version"]
        assert module.canonical_version(p) == case["canonical_version"]


class TestCheckTable:
    @pytest.mark.parametrize(
        "case", VECTORS["checks"], ids=lambda c: f"{c['path']}@{c['version']}~{c['path_major']}"
    )
    def test_check_and_path_major(self, case: dict[str, Any]) -> None:
        """check and check_path_major give Go's verdicts and texts."""
        assert error_of(module.check, case["path"], case["version"]) == case["check"]
        got = error_of(module.check_path_major, case["version"], case["path_major"])
        assert got == case["check_path_major"]
        assert module.match_path_major(case["version"], case["path_major"]) == (
            case["check_path_major"] is None
        )


class TestErrors:
    def test_invalid_path_error_fields(self) -> None:
        """InvalidPathError keeps kind, path and reason, and is an InvalidInput/ValueError."""
        with pytest.raises(InvalidPathError) as info:
            module.check_path("a.b/c..")
        e = info.value
        assert (e.kind, e.path, e.err) == ("module", "a.b/c..", "trailing dot in path element")
        assert isinstance(e, ValueError)

    def test_module_error_wraps_version_error(self) -> None:
        """ModuleError around an InvalidVersionError is worded path@version: invalid version."""
        e = ModuleError("a.b", InvalidVersionError("v2.0.0", "should be v0 or v1, not v2"))
        assert str(e) == "a.b@v2.0.0: invalid version: should be v0 or v1, not v2"

    def test_module_error_with_version(self) -> None:
        """ModuleError with a version and a plain cause is path@version: cause."""
        assert str(ModuleError("a.b", "boom", version="v1.0.0")) == "a.b@v1.0.0: boom"
        assert str(ModuleError("a.b", "boom")) == "module a.b: boom"

    def test_pseudo_noun(self) -> None:
        """A pseudo-version error says pseudo-version."""
        e = InvalidVersionError("v0.0.0-x", "syntax error", pseudo=True)
        assert str(e) == 'pseudo-version "v0.0.0-x" invalid: syntax error'
        wrapped = ModuleError("a.b", e)
        assert str(wrapped) == "a.b@v0.0.0-x: invalid pseudo-version: syntax error"


class TestInvalidUTF8:
    def test_surrogates_are_invalid_utf8(self) -> None:
        """A str holding surrogateescape bytes is invalid UTF-8, as Go sees those bytes."""
        p = b"a.b/\xff".decode("utf-8", "surrogateescape")
        assert error_of(module.check_file_path, p) == (
            'malformed file path "a.b/\\xff": invalid UTF-8'
        )
        assert error_of(module.check_path, "a.b/\ud800") == (
            'malformed module path "a.b/\\xed\\xa0\\x80": invalid UTF-8'
        )

    def test_escape_version_of_surrogate(self) -> None:
        """escape_version refuses a surrogate like any other non-letter."""
        with pytest.raises(InvalidVersionError):
            module.escape_version("v\udcff")


class TestPathMajorPrefix:
    @pytest.mark.parametrize(
        ("pm", "want"), [("", ""), ("/v2", "v2"), (".v1", "v1"), (".v3-unstable", "v3")]
    )
    def test_prefix(self, pm: str, want: str) -> None:
        """The tag prefix implied by a path major suffix."""
        assert module.path_major_prefix(pm) == want

    @pytest.mark.parametrize("pm", ["v2", "/x2", "/v02"])
    def test_bad_suffix(self, pm: str) -> None:
        """A suffix without separator or that is not a major version is refused."""
        with pytest.raises(InvalidInput):
            module.path_major_prefix(pm)


class TestIncompatible:
    @pytest.mark.parametrize(
        ("path", "version", "want"),
        [
            ("a.b/c", "v2.0.0", True),
            ("a.b/c", "v2.0.0+incompatible", True),
            ("a.b/c", "v1.0.0", False),
            ("a.b/c", "v0.1.0", False),
            ("a.b/c/v2", "v3.0.0", False),
            ("gopkg.in/yaml.v2", "v3.0.0", False),
            ("a.b/c", "bad", False),
            ("a.b/c", "v2", False),
            ("a.b/c", "v2.0.0+meta", False),
            ("bad", "v2.0.0", False),
        ],
    )
    def test_can_be_incompatible(self, path: str, version: str, want: bool) -> None:
        """Only a v2+ version of a path without a major suffix can be +incompatible."""
        assert module.can_be_incompatible(path, version) == want


class TestSortModuleVersions:
    def test_go_sum_order(self) -> None:
        """Sort by path, then semver, then the /go.mod suffix by string."""
        got = module.sort_module_versions(
            [
                ModuleVersion("b.c", "v1.0.0"),
                ModuleVersion("a.b", "v1.10.0/go.mod"),
                ModuleVersion("a.b", "v1.10.0"),
                ModuleVersion("a.b", "v1.9.0"),
            ]
        )
        assert [str(m) for m in got] == [
            "a.b@v1.9.0",
            "a.b@v1.10.0",
            "a.b@v1.10.0/go.mod",
            "b.c@v1.0.0",
        ]
        assert str(ModuleVersion("a.b")) == "a.b"


class TestGoStrings:
    @pytest.mark.parametrize(("r", "want"), [("a", True), ("Z", True), ("1", False), ("_", False)])
    def test_ascii_letters(self, r: str, want: bool) -> None:
        """is_letter on ASCII is exactly A-Z and a-z."""
        assert _gostr.is_letter(r) == want

    def test_unicode_15_letter(self) -> None:
        """A letter new in Unicode 15 is a letter here, as in Go, whatever Python's tables say."""
        assert _gostr.is_letter("\U00011f04")
        assert not _gostr.is_letter("\U0001f600")

    def test_quote_escapes(self) -> None:
        """quote uses Go's escapes: \\a-style, \\x for ASCII controls, \\u and \\U beyond."""
        assert _gostr.quote("\a\x01\u00ad\U000e0001\\\"'") == (
            '"\\a\\x01\\u00ad\\U000e0001\\\\\\"\'"'
        )
        assert _gostr.quote_rune("'") == "'\\''"
        assert _gostr.quote_rune("\ud800") == "'\ufffd'"


class TestVersionError:
    def test_wraps(self) -> None:
        """version_error wraps a cause in a ModuleError for the module version."""
        e = module.version_error(ModuleVersion("a.b", "v1.0.0"), "not found")
        assert isinstance(e, ModuleError)
        assert str(e) == "a.b@v1.0.0: not found"

    def test_keeps_same_module_error(self) -> None:
        """A ModuleError for the same path and version is returned as is."""
        inner = ModuleError("a.b", "boom", version="v1.0.0")
        assert module.version_error(ModuleVersion("a.b", "v1.0.0"), inner) is inner
        other = module.version_error(ModuleVersion("a.b", "v2.0.0"), inner)
        assert other is not inner
        assert str(other) == "a.b@v2.0.0: a.b@v1.0.0: boom"

    def test_invalid_version_cause(self) -> None:
        """An InvalidVersionError cause is worded as Go's ModuleError does."""
        e = module.version_error(ModuleVersion("a.b", "v2"), InvalidVersionError("v2", "bad"))
        assert str(e) == "a.b@v2: invalid version: bad"
