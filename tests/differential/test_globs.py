"""gomod.globs against Go's module.MatchPrefixPatterns and path.Match on generated pattern
lists and paths, in one oracle process."""

from __future__ import annotations

import pytest

from gomodproxy.gomod import globs
from tests.differential.xmod_batch import CASES, Batch, mismatches
from tests.property.strategies import Draw, batch, glob_and_name, glob_target, pattern_list


def case(d: Draw) -> tuple[str, str]:
    return pattern_list(d), glob_target(d)


LISTS = batch(case, CASES, seed=31)
# path.Match on single patterns (one entry of a list) against whole targets, and on patterns
# with names built to match them.
SINGLE = [(p.split(",")[0], t) for p, t in batch(case, CASES // 2, seed=32)] + batch(
    glob_and_name, CASES, seed=33
)


@pytest.fixture(scope="module")
def oracle() -> Batch:
    b = Batch()
    b.add("lists", "globs.match", [{"Globs": g, "Target": t} for g, t in LISTS])
    b.add("single", "globs.path_match", [{"Pattern": p, "Name": t} for p, t in SINGLE])
    return b


def path_match(c: tuple[str, str]) -> list[object]:
    try:
        return [globs.path_match(*c), None]
    except globs.BadPatternError as e:
        return [False, str(e)]


class TestAgainstGo:
    def test_match_prefix_patterns(self, oracle: Batch) -> None:
        """match_prefix_patterns agrees with Go on generated lists."""
        got = oracle.answers("lists")
        assert not mismatches(LISTS, got, lambda c: globs.match_prefix_patterns(*c))
        assert sum(bool(a.result) for a in got) > len(LISTS) // 20

    def test_path_match(self, oracle: Batch) -> None:
        """path_match agrees with Go's path.Match, including which patterns are malformed."""
        got = oracle.answers("single")
        assert not mismatches(SINGLE, got, path_match)
        assert sum(a.result[0] for a in got) > len(SINGLE) // 10
