"""Contracts of the metadata cache and of single-flight, so a shared (Redis) implementation can
replace the in-process one without the service noticing.

Metadata are the mutable answers (``@v/list``, ``@latest``, ``.info`` of a query): small
bytes with a time of storage. Freshness is the caller's business: the cache keeps an entry
for ``keep`` seconds (long enough to serve it stale when the upstream fails) and reports its
age; the service decides whether that age is fresh, stale-but-usable or too old.

Single-flight: every caller of ``run(key, fn)`` with the same key while a call is in progress
gets that call's result (or its exception) instead of starting its own. ``fn`` must be
idempotent and must begin by re-checking storage: a distributed implementation runs it once
per replica after the lock holder finished, and then it finds the artifact stored.

A single-flight declares whether it ``can_degrade`` (Redis, which falls back to host-wide
locks while it is down) and whether it is ``degraded`` now; wrappers forward both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, TypeVar, runtime_checkable

from gomodproxy.ports.health import Degradable

T = TypeVar("T")


def etag_of(data: bytes) -> str:
    """The ETag of an answer held in memory: a digest of its bytes, the same on every
    replica."""
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True)
class CacheEntry:
    """A cached metadata answer and the UNIX time it was stored.

    ``not_found``: the answer was "absent" (remembered so the go command's probes of every
    prefix of an import path do not each reach the upstream); ``value`` is then the message.
    """

    value: bytes
    stored_at: float
    not_found: bool = False

    @cached_property
    def etag(self) -> str:
        """The ETag of ``value``, computed once per entry: the in-process cache hands out the
        same entry until the answer is stored again, and a ``@v/list`` of a module with
        thousands of versions is megabytes that would otherwise be hashed on every hit."""
        return etag_of(self.value)


@runtime_checkable
class MetadataCache(Protocol):
    """Key → small bytes with a storage time."""

    @property
    def tier(self) -> str:
        """Where the last lookup was answered, for metrics: ``memory`` or ``redis`` (which
        answers from process memory while Redis is down); wrappers forward it."""

    async def get(self, key: str) -> CacheEntry | None:
        """The entry, or None when absent or older than its ``keep``."""

    async def set(self, key: str, value: bytes, keep: float, *, not_found: bool = False) -> None:
        """Store ``value`` now, to be kept for ``keep`` seconds (``not_found``: see
        ``CacheEntry``)."""

    async def aclose(self) -> None:
        """Release connections."""


@runtime_checkable
class SingleFlight(Degradable, Protocol):
    """At most one concurrent execution per key; waiters share its outcome. Redis can
    degrade (``ports.health``: it then runs through its host-wide fallback)."""

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` unless a run for ``key`` is in progress; either way return its result."""

    def inflight(self) -> int:
        """How many keys are being fetched right now (for the inflight gauge)."""

    async def aclose(self) -> None:
        """Release connections and locks."""
