"""gomod.semver against the vector table tests/vectors/semver.json and a few direct cases."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.gomod import semver

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "semver.json").read_text()
)
ORDERED: list[list[str]] = VECTORS["ordered"]
FLAT = [(rank, v) for rank, group in enumerate(ORDERED) for v in group]


class TestParse:
    @pytest.mark.parametrize("case", VECTORS["parse"], ids=lambda c: repr(c["v"]))
    def test_accessors(self, case: dict[str, str]) -> None:
        """Every accessor gives the table's answer; canonical "" means invalid."""
        v = case["v"]
        assert semver.is_valid(v) == (case["canonical"] != "")
        assert semver.canonical(v) == case["canonical"]
        assert semver.major(v) == case["major"]
        assert semver.major_minor(v) == case["major_minor"]
        assert semver.prerelease(v) == case["prerelease"]
        assert semver.build(v) == case["build"]

    @pytest.mark.parametrize("v", [v for _, v in FLAT])
    def test_ordered_versions_are_valid(self, v: str) -> None:
        """Every version of the ordered table is valid and canonicalizes to a valid version."""
        assert semver.is_valid(v)
        assert semver.is_valid(semver.canonical(v))

    def test_major_minor_of_shorthand(self) -> None:
        """major_minor fills in the minor of a vMAJOR shorthand."""
        assert semver.major_minor("v3") == "v3.0"
        assert semver.major_minor("v3.4-pre") == ""


class TestCompare:
    def test_table_order(self) -> None:
        """compare follows the table: rank decides, equal ranks compare 0."""
        for (ra, a), (rb, b) in itertools.product(FLAT, FLAT):
            want = (ra > rb) - (ra < rb)
            assert semver.compare(a, b) == want, (a, b)

    def test_invalid_is_lowest(self) -> None:
        """Invalid versions are below every valid one and equal to each other."""
        assert semver.compare("bad", "v0.0.0-0") == -1
        assert semver.compare("v0.0.0-0", "bad") == 1
        assert semver.compare("bad", "") == 0

    @pytest.mark.parametrize(("v", "w", "want"), VECTORS["max"])
    def test_max_version(self, v: str, w: str, want: str) -> None:
        """max_version canonicalizes and returns the greater, the second on a tie."""
        assert semver.max_version(v, w) == want

    def test_sort(self) -> None:
        """sort_versions orders by precedence, ties by string, invalid first."""
        assert semver.sort_versions(VECTORS["sort"]["input"]) == VECTORS["sort"]["want"]

    def test_sort_of_table_is_table(self) -> None:
        """Sorting a shuffled table gives back the ranks in order."""
        flat = [v for _, v in FLAT]
        got = semver.sort_versions(reversed(flat))
        ranks = {v: r for r, v in FLAT}
        assert [ranks[v] for v in got] == sorted(ranks[v] for v in flat)
