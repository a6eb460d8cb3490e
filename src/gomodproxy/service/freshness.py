"""When a cached mutable answer (``@v/list``, ``@latest``, a query's ``.info``) may be served.

Pure: the caller passes the entry's age and what it is; nothing here reads a clock.

- ``FRESH``: younger than ``list_ttl``, served as is (a remembered not-found too: the go
  command probes every path prefix of an import path, so absent answers are asked again and
  again).
- ``STALE``: older, but younger than ``stale_ttl``: served while one refresh runs in the
  background. Never a not-found (an absent module is asked for again, not kept absent).
- ``MISS``: absent, or too old: fetched now.

``usable_on_error`` says whether an entry may stand in for an upstream error.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gomodproxy.config.settings import CacheSettings


class Freshness(enum.Enum):
    FRESH = "fresh"
    STALE = "stale"
    MISS = "miss"


@dataclass(frozen=True)
class FreshnessPolicy:
    """Seconds a mutable answer stays fresh, and how long a stale copy may still be served."""

    list_ttl: float = CacheSettings.list_ttl
    stale_ttl: float = CacheSettings.stale_ttl

    def __post_init__(self) -> None:
        # A stale copy is never kept for less time than a fresh one.
        if self.stale_ttl < self.list_ttl:
            object.__setattr__(self, "stale_ttl", self.list_ttl)


def decide(policy: FreshnessPolicy, age: float | None, *, not_found: bool) -> Freshness:
    """What to do with a cached entry of ``age`` seconds (None: there is none)."""
    if age is None:
        return Freshness.MISS
    if age < policy.list_ttl:
        return Freshness.FRESH
    if age < policy.stale_ttl and not not_found:
        return Freshness.STALE
    return Freshness.MISS


def usable_on_error(policy: FreshnessPolicy, age: float | None, *, not_found: bool) -> bool:
    """Whether a cached entry may be served instead of an upstream error (stale-if-error)."""
    return age is not None and age < policy.stale_ttl and not not_found
