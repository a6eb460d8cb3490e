"""Latency histograms: single-flight waits (leader and followers), storage operations and the
metadata cache, exported from the app and summed over worker snapshots."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx

from gomodproxy.ops.metrics import Metrics
from tests.unit.test_server import make_full_app
from tests.unit.test_service import FakeSource

MOD = "example.com/m"


def _value(text: str, series: str) -> float:
    m = re.search(re.escape(series) + r" ([0-9.e+]+)$", text, re.MULTILINE)
    assert m is not None, series
    return float(m.group(1))


async def test_waits_storage_and_metadata_histograms(tmp_path: Path) -> None:
    source = FakeSource()
    source.add(MOD, "v1.0.0")
    source.answers[("list", MOD, "")] = b"v1.0.0\n"
    source.delay = 0.2  # the fetch is slow enough for the other requests to join it
    app, _ = make_full_app(tmp_path, source)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        answers = await asyncio.gather(*(c.get(f"/{MOD}/@v/v1.0.0.mod") for _ in range(5)))
        assert [r.status_code for r in answers] == [200] * 5
        text = (await c.get("/metrics")).text
        assert (await c.get(f"/{MOD}/@v/list")).status_code == 200
        after_list = (await c.get("/metrics")).text
    assert source.calls[("mod", MOD, "v1.0.0")] == 1
    wait = "gomodproxy_singleflight_wait_seconds"
    assert _value(text, f'{wait}_count{{role="leader"}}') == 1
    assert _value(text, f'{wait}_count{{role="follower"}}') == 4
    # followers waited for the slow fetch: none of them within the first bucket (10 ms)
    assert _value(text, f'{wait}_bucket{{le="0.01",role="follower"}}') == 0
    storage = "gomodproxy_storage_operation_duration_seconds"
    assert _value(text, f'{storage}_count{{backend="memory",op="put"}}') >= 1
    assert _value(text, f'{storage}_count{{backend="memory",op="get"}}') >= 1
    meta = "gomodproxy_metadata_cache_duration_seconds"
    assert _value(after_list, f'{meta}_count{{op="get",tier="memory"}}') >= 1
    assert _value(after_list, f'{meta}_count{{op="set",tier="memory"}}') >= 1
    assert _value(after_list, f'{wait}_count{{role="leader"}}') == 2  # the list's fetch


def test_histograms_sum_over_worker_snapshots(tmp_path: Path) -> None:
    """A histogram of another (even exited) worker is added bucket by bucket."""
    other = Metrics()
    other.observe("x_seconds", "help", (("op", "get"),), 0.003)
    snap = other.snapshot()
    snap["pid"] = 2**22 + 12345  # no such process
    (tmp_path / "worker-other.json").write_text(json.dumps(snap))
    mine = Metrics(tmp_path)
    mine.observe("x_seconds", "help", (("op", "get"),), 0.003)
    mine.observe("x_seconds", "help", (("op", "get"),), 7.0)
    text = mine.render().decode()
    assert _value(text, 'x_seconds_count{op="get"}') == 3
    assert _value(text, 'x_seconds_bucket{le="0.005",op="get"}') == 2
    assert _value(text, 'x_seconds_bucket{le="+Inf",op="get"}') == 3
    assert abs(_value(text, 'x_seconds_sum{op="get"}') - 7.006) < 1e-9
