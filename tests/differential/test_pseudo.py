"""gomod.pseudo against golang.org/x/mod/module's pseudo-versions on generated inputs, in one
oracle process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from gomodproxy.gomod import pseudo
from gomodproxy.gomod.module import InvalidVersionError
from tests.differential.xmod_batch import CASES, Batch, mismatches
from tests.property.strategies import Draw, batch, commit_time, pseudo_version, version

PARSES = batch(pseudo_version, CASES, seed=21) + batch(version, CASES // 2, seed=22)


def build_case(d: Draw) -> tuple[str, str, datetime, str]:
    major = d.pick(("", "v0", "v1", "v2", "v17"))
    older = version(d) if d.integer(0, 3) else ""
    rev = d.pick(("abcdef123456", "000000000000", "r1", "0123456789abcdef0123"))
    return major, older, commit_time(d), rev


BUILDS = batch(build_case, CASES, seed=23)
ZEROS = ["", "v0", "v1", "v2", "v10", "v99999999999999999999", "x", "v1.2"]


@pytest.fixture(scope="module")
def oracle() -> Batch:
    b = Batch()
    b.add("parse", "pseudo.parse", [{"V": v} for v in PARSES])
    b.add(
        "build",
        "pseudo.build",
        [{"Major": m, "Older": o, "Time": t.isoformat(), "Rev": r} for m, o, t, r in BUILDS],
    )
    b.add("zero", "pseudo.zero", [{"Major": m} for m in ZEROS])
    return b


def outcome(fn: Any, v: str) -> list[Any]:
    try:
        return [fn(v), None]
    except InvalidVersionError as e:
        return [None, str(e)]


def parse(v: str) -> dict[str, Any]:
    t, terr = outcome(pseudo.pseudo_version_time, v)
    rev, rerr = outcome(pseudo.pseudo_version_rev, v)
    base, berr = outcome(pseudo.pseudo_version_base, v)
    return {
        "is_pseudo": pseudo.is_pseudo_version(v),
        "is_zero_pseudo": pseudo.is_zero_pseudo_version(v),
        "time": [t.isoformat().replace("+00:00", "Z") if t else None, terr],
        "rev": [rev or "", rerr],
        "base": [base or "", berr],
    }


def go_year_zero(v: str) -> bool:
    # Go parses the year 0000, which a Python datetime cannot hold (see pseudo_version_time).
    return pseudo.is_pseudo_version(v) and pseudo.parse_pseudo_version(v)[1].startswith("0000")


class TestAgainstGo:
    def test_parse(self, oracle: Batch) -> None:
        """is_pseudo, is_zero_pseudo, time, rev and base agree with Go, errors included."""
        pairs = [(v, a) for v, a in zip(PARSES, oracle.answers("parse"), strict=True)]
        kept = [(v, a) for v, a in pairs if not go_year_zero(v)]
        assert len(kept) > len(pairs) * 0.9
        assert not mismatches([v for v, _ in kept], [a for _, a in kept], parse)

    def test_year_zero_differs_only_in_time(self, oracle: Batch) -> None:
        """For year-0000 timestamps only the time differs from Go (an error here)."""
        for v, a in zip(PARSES, oracle.answers("parse"), strict=True):
            if go_year_zero(v):
                ours = parse(v)
                assert ours["time"][1] is not None
                assert {k: x for k, x in ours.items() if k != "time"} == {
                    k: x for k, x in a.result.items() if k != "time"
                }

    def test_generated_reach_valid_pseudo_versions(self) -> None:
        """A good share of the generated strings are pseudo-versions with a valid base."""
        ok = sum(pseudo.is_pseudo_version(v) for v in PARSES)
        assert ok > len(PARSES) // 5

    def test_build(self, oracle: Batch) -> None:
        """pseudo_version builds Go's string for any base, time zone and revision."""
        assert not mismatches(BUILDS, oracle.answers("build"), lambda c: pseudo.pseudo_version(*c))

    def test_zero(self, oracle: Batch) -> None:
        """zero_pseudo_version agrees with Go for any major string."""
        assert not mismatches(ZEROS, oracle.answers("zero"), pseudo.zero_pseudo_version)
