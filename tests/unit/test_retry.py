"""Retries of upstream requests: which failures are retried, backoff within the deadline, the
retry budget, the circuit breaker, the counters, and zips resumed after a cut-off body."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gomodproxy.errors import NotFound, UpstreamError
from gomodproxy.sources.proxy import HTTPProxySource
from gomodproxy.sources.retry import (
    OPEN_METRIC,
    RETRIES_METRIC,
    CircuitBreaker,
    CircuitOpen,
    Retrier,
    RetryBudget,
    RetryPolicy,
    Stats,
    TransientUpstreamError,
)


class Clock:
    """A fake monotonic clock that ``sleep`` advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def retrier(clock: Clock, **kw: object) -> Retrier:
    return Retrier(
        "proxy:up.test",
        kw.pop("policy", None),  # type: ignore[arg-type]
        stats=kw.pop("stats", Stats()),  # type: ignore[arg-type]
        rng=random.Random(1),
        sleep=clock.sleep,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def flaky(failures: list[BaseException]) -> object:
    async def attempt(n: int) -> str:
        if failures:
            raise failures.pop(0)
        return f"ok after {n}"

    return attempt


def transient() -> TransientUpstreamError:
    return TransientUpstreamError("503", source="proxy:up.test", status=503, reason="status_503")


class TestRetrier:
    async def test_transient_failures_are_retried_with_jittered_growing_waits(self) -> None:
        clock = Clock()
        stats = Stats()
        r = retrier(clock, stats=stats)
        assert await r.run(flaky([transient(), transient(), transient()]), "x") == "ok after 3"  # type: ignore[arg-type]
        assert len(clock.slept) == 3
        assert all(0 <= s <= min(1.0, 0.05 * 2 ** (i + 1)) for i, s in enumerate(clock.slept))
        assert stats.read()[RETRIES_METRIC][1] == {
            (("source", "proxy:up.test"), ("reason", "status_503")): 3
        }

    async def test_final_answers_are_not_retried(self) -> None:
        clock = Clock()
        r = retrier(clock)
        with pytest.raises(NotFound):
            await r.run(flaky([NotFound("gone")]), "x")  # type: ignore[arg-type]
        with pytest.raises(UpstreamError, match="400"):
            await r.run(flaky([UpstreamError("400", status=400)]), "x")  # type: ignore[arg-type]
        assert clock.slept == []

    async def test_attempts_and_deadline_bound_the_retries(self) -> None:
        clock = Clock()
        r = retrier(clock, policy=RetryPolicy(attempts=3))
        with pytest.raises(TransientUpstreamError):
            await r.run(flaky([transient()] * 5), "x")  # type: ignore[arg-type]
        assert len(clock.slept) == 2
        clock = Clock()
        r = retrier(clock, policy=RetryPolicy(attempts=100, base=1, cap=1, deadline=3.5))
        failures: list[BaseException] = [transient()] * 100
        with pytest.raises(TransientUpstreamError):
            await r.run(flaky(failures), "x")  # type: ignore[arg-type]
        assert clock.now <= 3.5

    async def test_budget_stops_a_retry_storm(self) -> None:
        """An upstream that fails everything gets a bounded share of retries."""
        clock = Clock()
        r = retrier(
            clock,
            budget=RetryBudget(ratio=0.1, reserve=2),
            breaker=CircuitBreaker(threshold=10**9, clock=clock),
        )
        for _ in range(100):
            with pytest.raises(TransientUpstreamError):
                await r.run(flaky([transient()] * 10), "x")  # type: ignore[arg-type]
        assert len(clock.slept) <= 2 + 100 * 0.1 + 1

    async def test_breaker_fails_fast_then_lets_one_request_try(self) -> None:
        clock = Clock()
        stats = Stats()
        breaker = CircuitBreaker(threshold=3, cooldown=5, clock=clock)
        r = retrier(clock, stats=stats, breaker=breaker, policy=RetryPolicy(attempts=1))
        for _ in range(3):
            with pytest.raises(TransientUpstreamError):
                await r.run(flaky([transient()]), "x")  # type: ignore[arg-type]
        with pytest.raises(CircuitOpen, match="circuit open"):
            await r.run(flaky([]), "x")  # type: ignore[arg-type]
        assert stats.read()[OPEN_METRIC][1] == {(("source", "proxy:up.test"),): 1}
        clock.now += 5
        assert breaker.allow()  # the trial request
        assert not breaker.allow()  # only one at a time
        breaker.failure()  # the trial failed: open again
        assert not breaker.allow()
        clock.now += 5
        assert await r.run(flaky([]), "x") == "ok after 0"  # type: ignore[arg-type]
        assert breaker.allow()
        assert breaker.allow()


ZIP = bytes(random.Random(2).randbytes(300_000))


class CutOnce:
    """Sends half the zip then fails the first time; then answers as told."""

    def __init__(self, again: str) -> None:
        self.again = again
        self.requests: list[httpx.Request] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        if len(self.requests) == 1:

            async def cut() -> AsyncIterator[bytes]:
                yield ZIP[:150_000]
                raise httpx.RemoteProtocolError("peer closed connection", request=req)

            return httpx.Response(200, headers={"Content-Length": str(len(ZIP))}, content=cut())  # type: ignore[arg-type]
        start = int(req.headers.get("range", "bytes=0-")[6:-1])
        if self.again == "range" and start:
            return httpx.Response(
                206,
                headers={"Content-Range": f"bytes {start}-{len(ZIP) - 1}/{len(ZIP)}"},
                content=ZIP[start:],
            )
        if self.again == "changed":
            return httpx.Response(200, content=b"X" + ZIP[1:])
        return httpx.Response(200, content=ZIP)


def source(handler: CutOnce) -> HTTPProxySource:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    clock = Clock()
    return HTTPProxySource("https://up.test", client=client, retrier=retrier(clock, stats=Stats()))


class TestZipResume:
    @pytest.mark.parametrize("again", ["range", "whole"])
    async def test_cut_off_zip_is_completed(self, tmp_path: Path, again: str) -> None:
        """After a reset mid-body the zip is completed, by a range or by a whole body whose
        start equals the bytes kept; the file is the same file (readers keep reading)."""
        up = CutOnce(again)
        dest = tmp_path / "z.zip"
        dest.touch()
        inode = dest.stat().st_ino
        await source(up).zip("example.com/m", "v1.0.0", dest)
        assert dest.read_bytes() == ZIP
        assert dest.stat().st_ino == inode
        assert len(up.requests) == 2
        kept = up.requests[1].headers["range"]
        assert kept.startswith("bytes=")
        assert kept != "bytes=0-"
        assert up.requests[1].headers["accept-encoding"] == "identity"

    async def test_different_bytes_start_a_new_file(self, tmp_path: Path) -> None:
        """An upstream that sends other bytes the second time is not spliced: the kept file
        is dropped and the zip fetched again into a new one."""
        up = CutOnce("changed")
        dest = tmp_path / "z.zip"
        dest.touch()
        with dest.open("rb") as reader:  # as a live reader holds the download file
            await source(up).zip("example.com/m", "v1.0.0", dest)
            assert dest.read_bytes() == b"X" + ZIP[1:]
            assert os.fstat(reader.fileno()).st_ino != dest.stat().st_ino
            assert ZIP.startswith(reader.read())
        assert len(up.requests) == 3
