"""Token buckets and the per-principal cap on concurrent upstream fetches."""

from __future__ import annotations

import asyncio

import pytest

from gomodproxy.security.ratelimit import FetchLimiter, RateLimiter, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_burst_then_rate() -> None:
    """A burst passes at once; then one token per 1/rate seconds; keys are independent."""
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0.0
    clock.now += 100
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # capped at burst


def test_idle_buckets_are_swept() -> None:
    """Buckets idle long enough to be full again are dropped, so the table stays small."""
    clock = Clock()
    buckets = TokenBuckets(rate=10.0, burst=10, clock=clock)
    for i in range(4095):
        buckets.take(f"k{i}")
    clock.now += 10
    buckets.take("trigger")
    assert len(buckets) <= 1


def test_limiter_per_address_and_principal() -> None:
    """Retry-After is whole seconds; the address bucket applies to everyone."""
    clock = Clock()
    limiter = RateLimiter(
        principal_rate=1, principal_burst=2, address_rate=100, address_burst=100, clock=clock
    )
    assert limiter.check("user:a", "10.0.0.1") == 0
    assert limiter.check("user:a", "10.0.0.2") == 0
    assert limiter.check("user:a", "10.0.0.3") == 1
    assert limiter.check("user:b", "10.0.0.3") == 0
    assert not RateLimiter().enabled


async def test_fetch_cap_per_principal() -> None:
    """A principal never holds more than `limit` fetches; another principal is not blocked."""
    limiter = FetchLimiter(2)
    running = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}
    gate = asyncio.Event()

    async def work(key: str) -> str:
        running[key] += 1
        peak[key] = max(peak[key], running[key])
        await gate.wait()
        running[key] -= 1
        return key

    tasks = [asyncio.ensure_future(limiter.run("a", lambda: work("a"))) for _ in range(6)]
    await asyncio.sleep(0)
    b = asyncio.ensure_future(limiter.run("b", lambda: work("b")))
    for _ in range(5):
        await asyncio.sleep(0)
    assert limiter.in_use("a") == 2
    assert running == {"a": 2, "b": 1}
    gate.set()
    assert await asyncio.gather(*tasks, b) == ["a"] * 6 + ["b"]
    assert peak == {"a": 2, "b": 1}
    assert limiter.in_use("a") == 0
