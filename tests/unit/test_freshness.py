"""The freshness decision over cached mutable answers, alone (no cache, no clock)."""

from __future__ import annotations

import pytest

from gomodproxy.service.freshness import Freshness, FreshnessPolicy, decide, usable_on_error

POLICY = FreshnessPolicy(list_ttl=60, stale_ttl=3600)


@pytest.mark.parametrize(
    ("age", "not_found", "expected"),
    [
        (None, False, Freshness.MISS),
        (0.0, False, Freshness.FRESH),
        (59.9, False, Freshness.FRESH),
        (60.0, False, Freshness.STALE),
        (3599.9, False, Freshness.STALE),
        (3600.0, False, Freshness.MISS),
        # A remembered not-found is fresh for list_ttl, then asked again: never served stale.
        (0.0, True, Freshness.FRESH),
        (59.9, True, Freshness.FRESH),
        (60.0, True, Freshness.MISS),
        (None, True, Freshness.MISS),
    ],
)
def test_decide(age: float | None, not_found: bool, expected: Freshness) -> None:
    assert decide(POLICY, age, not_found=not_found) is expected


@pytest.mark.parametrize(
    ("age", "not_found", "usable"),
    [
        (None, False, False),
        (10.0, False, True),
        (3599.9, False, True),
        (3600.0, False, False),
        (10.0, True, False),  # an upstream error never turns into a remembered 404
    ],
)
def test_usable_on_error(age: float | None, not_found: bool, usable: bool) -> None:
    assert usable_on_error(POLICY, age, not_found=not_found) is usable


def test_stale_ttl_never_below_list_ttl() -> None:
    """A stale window shorter than the fresh one would make fresh copies unusable on error."""
    policy = FreshnessPolicy(list_ttl=600, stale_ttl=60)
    assert policy.stale_ttl == 600
    assert usable_on_error(policy, 300.0, not_found=False)
    assert decide(policy, 300.0, not_found=False) is Freshness.FRESH
