"""gomod.semver against golang.org/x/mod/semver on generated versions (one oracle process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.gomod import semver
from tests.differential.xmod_batch import CASES, Batch, mismatches
from tests.property.strategies import batch, version

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "semver.json").read_text())
TABLE = [v["v"] for v in VECTORS["parse"]] + [v for group in VECTORS["ordered"] for v in group]
VERSIONS = TABLE + batch(version, CASES, seed=1)
PAIRS = list(zip(VERSIONS, batch(version, len(VERSIONS), seed=2), strict=True))
LISTS = [batch(version, 20, seed=1000 + i) for i in range(CASES // 20)]


@pytest.fixture(scope="module")
def oracle() -> Batch:
    b = Batch()
    b.add("all", "semver.all", [{"V": v} for v in VERSIONS])
    b.add("compare", "semver.compare", [{"V": v, "W": w} for v, w in PAIRS])
    b.add("max", "semver.max", [{"V": v, "W": w} for v, w in PAIRS])
    b.add("sort", "semver.sort", [{"List": xs} for xs in LISTS])
    return b


def accessors(v: str) -> dict[str, Any]:
    return {
        "is_valid": semver.is_valid(v),
        "canonical": semver.canonical(v),
        "major": semver.major(v),
        "major_minor": semver.major_minor(v),
        "prerelease": semver.prerelease(v),
        "build": semver.build(v),
    }


class TestAgainstGo:
    def test_accessors(self, oracle: Batch) -> None:
        """is_valid, canonical, major, major_minor, prerelease and build agree with Go."""
        assert not mismatches(VERSIONS, oracle.answers("all"), accessors)

    def test_some_generated_versions_are_valid(self) -> None:
        """The generator reaches valid versions often enough to test them."""
        assert sum(map(semver.is_valid, VERSIONS)) > len(VERSIONS) // 5

    def test_compare(self, oracle: Batch) -> None:
        """compare agrees with Go on random pairs."""
        assert not mismatches(PAIRS, oracle.answers("compare"), lambda p: semver.compare(*p))

    def test_max(self, oracle: Batch) -> None:
        """max_version agrees with Go's Max."""
        assert not mismatches(PAIRS, oracle.answers("max"), lambda p: semver.max_version(*p))

    def test_sort(self, oracle: Batch) -> None:
        """sort_versions gives Go's order, ties by string."""
        assert not mismatches(LISTS, oracle.answers("sort"), semver.sort_versions)
