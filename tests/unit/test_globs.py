"""gomod.globs against tests/vectors/globs.json and direct cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.gomod import globs

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "globs.json").read_text()
)


def path_match(pattern: str, name: str) -> list[object]:
    try:
        return [globs.path_match(pattern, name), None]
    except globs.BadPatternError as e:
        return [False, str(e)]


class TestTable:
    @pytest.mark.parametrize(
        "case", VECTORS["cases"], ids=lambda c: ascii(f"{c['globs']}~{c['target']}")
    )
    def test_case(self, case: dict[str, Any]) -> None:
        """match_prefix_patterns and path_match give Go's answers, errors included."""
        assert (
            globs.match_prefix_patterns(case["globs"], case["target"])
            == (case["match_prefix_patterns"])
        )
        assert path_match(case["globs"], case["target"]) == case["path_match"]


class TestSpecExamples:
    @pytest.mark.parametrize("pattern", ["*.io", "rsc.io", "rsc.io/", "*/quote", "rsc*"])
    def test_matches_rsc_io_quote(self, pattern: str) -> None:
        """The spec's matching examples match rsc.io/quote."""
        assert globs.match_prefix_patterns(pattern, "rsc.io/quote")

    @pytest.mark.parametrize("pattern", ["*quo*", "*/v3", "*/quote/*", "*/*/*"])
    def test_does_not_match_rsc_io_quote(self, pattern: str) -> None:
        """Too many elements or a glob that must span a slash never match. (The spec digest
        lists */quote/* as matching; Go, the ground truth, says no: it needs 3 elements.)"""
        assert not globs.match_prefix_patterns(pattern, "rsc.io/quote")

    def test_no_space_trimming(self) -> None:
        """Entries are not trimmed: " b.com" is not "b.com"."""
        assert not globs.match_prefix_patterns("a.com, b.com", "b.com")
        assert globs.match_prefix_patterns("a.com, b.com", " b.com")

    def test_bad_pattern_is_skipped(self) -> None:
        """A malformed entry matches nothing but the later entries still count."""
        assert globs.match_prefix_patterns("[,a.com", "a.com/x")


class TestBytes:
    def test_star_resumes_inside_a_rune(self) -> None:
        """Like Go, a star may resume matching in the middle of a multi-byte character."""
        assert globs.path_match("*[\ufffd]", "\u00e9")

    def test_invalid_utf8_in_class(self) -> None:
        """An invalid byte in a class is a bad pattern."""
        bad = b"[\xff]".decode("utf-8", "surrogateescape")
        with pytest.raises(globs.BadPatternError):
            globs.path_match(bad, "a")

    def test_lone_surrogate(self) -> None:
        """A surrogate outside surrogateescape's range is encoded, not refused."""
        assert not globs.match_prefix_patterns("\ud800", "a")
        assert globs.path_match("?", "\ud800") is False

    def test_truncated_rune(self) -> None:
        """A multi-byte lead byte without its continuation decodes as one bad byte."""
        name = b"\xc3".decode("utf-8", "surrogateescape")
        assert globs.path_match("?", name)
        assert globs.path_match("[^a]", name)
        four = b"\xf5".decode("utf-8", "surrogateescape")
        assert globs.path_match("?", four)
