"""Properties of gomod.semver: a total order, idempotent canonical form, consistent parts."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gomodproxy.gomod import semver
from tests.property.strategies import versions

# Deterministic (CI must not flake) and free of timing limits on a loaded two-core machine.
PROPS = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class TestOrder:
    @PROPS
    @given(versions(), versions())
    def test_antisymmetric(self, a: str, b: str) -> None:
        """compare(a, b) is the negation of compare(b, a)."""
        assert semver.compare(a, b) == -semver.compare(b, a)

    @PROPS
    @given(versions(), versions(), versions())
    def test_transitive(self, a: str, b: str, c: str) -> None:
        """a <= b and b <= c imply a <= c."""
        if semver.compare(a, b) <= 0 and semver.compare(b, c) <= 0:
            assert semver.compare(a, c) <= 0

    @PROPS
    @given(st.lists(versions(), max_size=12))
    def test_sort_is_ordered_permutation(self, vs: list[str]) -> None:
        """sort_versions returns a permutation in non-decreasing order, ties by string."""
        got = semver.sort_versions(vs)
        assert sorted(got) == sorted(vs)
        for a, b in itertools.pairwise(got):
            c = semver.compare(a, b)
            assert c < 0 or (c == 0 and a <= b)

    @PROPS
    @given(versions(), versions())
    def test_max_is_greatest_canonical(self, a: str, b: str) -> None:
        """max_version is one of the canonical forms and not below either version."""
        m = semver.max_version(a, b)
        assert m in (semver.canonical(a), semver.canonical(b))
        assert semver.compare(m, a) >= 0
        assert semver.compare(m, b) >= 0


class TestCanonical:
    @PROPS
    @given(versions())
    def test_idempotent(self, v: str) -> None:
        """canonical of a canonical version is itself."""
        c = semver.canonical(v)
        assert semver.canonical(c) == c

    @PROPS
    @given(versions())
    def test_valid_iff_canonical_nonempty(self, v: str) -> None:
        """A version is valid exactly when it has a canonical form, which compares equal."""
        c = semver.canonical(v)
        assert semver.is_valid(v) == (c != "")
        if c:
            assert semver.compare(v, c) == 0
            assert semver.build(c) == ""

    @PROPS
    @given(versions())
    def test_parts_compose(self, v: str) -> None:
        """major prefixes major_minor, which prefixes canonical; prerelease and build are the
        version's own suffixes."""
        if not semver.is_valid(v):
            assert semver.major(v) == semver.prerelease(v) == semver.build(v) == ""
            return
        c = semver.canonical(v)
        assert semver.major_minor(v).startswith(semver.major(v))
        assert c.startswith(semver.major_minor(v) + ".")
        assert c.endswith(semver.prerelease(v))
        assert v.endswith(semver.prerelease(v) + semver.build(v))
