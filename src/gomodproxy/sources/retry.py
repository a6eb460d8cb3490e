"""Retrying idempotent upstream requests: jittered backoff within a deadline, a retry budget
and a circuit breaker per upstream.

Theory of operation
-------------------
The go command does not retry a failed download, so one upstream 5xx, reset or timeout fails
a CI build. Every request to an upstream proxy is a GET of an immutable or cacheable path,
so it is safe to send again. ``Retrier.run`` calls an attempt; when it fails with a
*transient* error (``transient(exc)``: a transport error or reset, a 5xx or 429, a truncated
body, a timeout) it waits a random time in ``[0, min(cap, base * 2**n))`` ("full jitter", so
that many clients failing at once do not come back at once) and tries again, as long as

- fewer than ``attempts`` attempts were made,
- the wait ends before ``deadline`` seconds since the first attempt (a client waiting on us
  has its own patience; past it a retry only wastes the upstream's time),
- the upstream's ``RetryBudget`` has a token: each request adds ``ratio`` of a token, each
  retry takes one, so retries stay a fraction of the traffic and an upstream that fails
  everything is not hit with ``attempts`` times the load (no retry storm).

A ``CircuitBreaker`` counts requests that failed after their retries: ``threshold`` in a row
open it, and for ``cooldown`` seconds requests fail at once without reaching the upstream
(a chain with ``|`` moves on to its next entry at once). Then one request at a time is let
through; its success closes the breaker, its failure opens it again.

Not found (404/410) and other answers are final: they are the upstream's word, not a hiccup.
Retries are counted per upstream and reason in ``STATS`` (exported as
``gomodproxy_upstream_retries_total``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from gomodproxy.errors import NotFound, UpstreamError, UpstreamTimeout

T = TypeVar("T")

RETRIES_METRIC = "gomodproxy_upstream_retries_total"
RETRIES_HELP = "Upstream requests sent again after a transient failure, by upstream and reason."
OPEN_METRIC = "gomodproxy_upstream_circuit_open_total"
OPEN_HELP = "Requests refused at once because the upstream's circuit breaker was open."


class TransientUpstreamError(UpstreamError):
    """A failure worth one more try: reset, 5xx, 429, truncated body."""

    def __init__(self, message: str, *, source: str = "", status: int | None = None, reason: str):
        super().__init__(message, source=source, status=status)
        self.reason = reason


class CircuitOpen(UpstreamError):
    """The upstream failed many requests in a row; it is not asked until its cooldown ends."""


def transient(exc: BaseException) -> str | None:
    """Why ``exc`` is worth a retry (a metric label), or None if it is final."""
    if isinstance(exc, TransientUpstreamError):
        return exc.reason
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    return None


class Stats:
    """Retry and breaker counters of this process, by (metric, upstream, reason)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}

    def add(self, metric: str, source: str, reason: str) -> None:
        key = (metric, source, reason)
        self.counts[key] = self.counts.get(key, 0) + 1

    def read(self) -> dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]:
        """Counters as ``name -> (help, {labels: value})`` for the metrics snapshot."""
        out: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]] = {
            RETRIES_METRIC: (RETRIES_HELP, {}),
            OPEN_METRIC: (OPEN_HELP, {}),
        }
        for (metric, source, reason), n in self.counts.items():
            labels: tuple[tuple[str, str], ...] = (("source", source),)
            if metric == RETRIES_METRIC:
                labels += (("reason", reason),)
            series = out[metric][1]
            series[labels] = series.get(labels, 0) + n
        return out


#: This process's counters (every upstream records here; /metrics sums the workers').
STATS = Stats()


@dataclass
class RetryPolicy:
    attempts: int = 6
    base: float = 0.05
    cap: float = 1.0
    deadline: float = 20.0


class RetryBudget:
    """Retries as a bounded fraction of requests: ``ratio`` per request, ``reserve`` at most
    saved up (also the start), one spent per retry."""

    def __init__(self, ratio: float = 0.2, reserve: float = 20.0) -> None:
        self.ratio = ratio
        self.reserve = reserve
        self.tokens = reserve

    def deposit(self) -> None:
        self.tokens = min(self.reserve, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class CircuitBreaker:
    """Open after ``threshold`` failed requests in a row; half-open after ``cooldown``."""

    def __init__(
        self,
        threshold: int = 10,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    def allow(self) -> bool:
        """Whether a request may go out now (one at a time while half-open)."""
        if self.opened_at is None:
            return True
        if self.clock() - self.opened_at < self.cooldown or self._trial:
            return False
        self._trial = True
        return True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial = False

    def failure(self) -> None:
        self.failures += 1
        if self._trial or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self._trial = False


class Retrier:
    """Runs the requests of one upstream with retries, a budget and a breaker."""

    def __init__(
        self,
        name: str,
        policy: RetryPolicy | None = None,
        *,
        budget: RetryBudget | None = None,
        breaker: CircuitBreaker | None = None,
        stats: Stats = STATS,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.policy = policy or RetryPolicy()
        self.budget = budget or RetryBudget()
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self.stats = stats
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.clock = clock

    async def run(
        self, attempt: Callable[[int], Awaitable[T]], what: str, deadline: float | None = None
    ) -> T:
        """``attempt(n)`` (n = 0, 1, ...) until it succeeds or fails for good; ``deadline``
        replaces the policy's (a zip download has its own, longer one).

        Raises:
            CircuitOpen: the breaker is open; nothing was sent.
            UpstreamError: the last attempt's error (final, or out of tries, time or budget).
        """
        if not self.breaker.allow():
            self.stats.add(OPEN_METRIC, self.name, "")
            raise CircuitOpen(
                f"{self.name}: {what}: upstream failing, not asked for "
                f"{self.breaker.cooldown:g}s (circuit open)",
                source=self.name,
            )
        self.budget.deposit()
        start = self.clock()
        n = 0
        while True:
            try:
                result = await attempt(n)
            except UpstreamError as exc:
                reason = transient(exc)
                n += 1
                delay = self.rng.uniform(0, min(self.policy.cap, self.policy.base * 2**n))
                if (
                    reason is None
                    or n >= self.policy.attempts
                    or self.clock() - start + delay > (deadline or self.policy.deadline)
                    or not self.budget.withdraw()
                ):
                    if reason is None:
                        self.breaker.success()  # a definite answer: the upstream is up
                    else:
                        self.breaker.failure()
                    raise
                self.stats.add(RETRIES_METRIC, self.name, reason)
                await self.sleep(delay)
                continue
            except NotFound:
                self.breaker.success()  # the upstream answered
                raise
            self.breaker.success()
            return result
