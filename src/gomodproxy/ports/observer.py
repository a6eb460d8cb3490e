"""The contract of what the proxy service reports about its lookups and upstream fetches."""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    """Receives the events metrics are made of (see ``gomodproxy.ops.metrics.Metrics``)."""

    def cache_lookup(self, tier: str, result: str) -> None: ...

    def upstream(self, source: str, artifact: str, outcome: str, seconds: float) -> None: ...


class NullObserver:
    def cache_lookup(self, tier: str, result: str) -> None:
        return None

    def upstream(self, source: str, artifact: str, outcome: str, seconds: float) -> None:
        return None
