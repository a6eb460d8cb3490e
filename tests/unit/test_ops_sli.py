"""The download-success SLI: each response's outcome, and the counter the server exports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from gomodproxy.errors import (
    InvalidInput,
    NotFound,
    StorageError,
    UpstreamError,
    UpstreamTimeout,
    VerificationError,
)
from gomodproxy.ops import sli
from gomodproxy.server.app import ProxyApp
from tests.unit.test_server import make_full_app
from tests.unit.test_service import FakeSource

MOD = "example.com/m"


@pytest.mark.parametrize(
    ("status", "exc", "outcome"),
    [
        (200, None, "success"),
        (206, None, "success"),
        (304, None, "success"),
        (416, None, "success"),
        (404, NotFound("no such version"), "success"),
        (404, NotFound("gone", gone=True), "success"),
        (400, InvalidInput("bad version"), "success"),
        (401, None, "success"),  # access control's correct refusal
        (403, None, "success"),
        (404, UpstreamError("upstream 500"), "failure"),  # hidden as 404 for ,direct
        (502, UpstreamError("upstream 500"), "failure"),
        (404, UpstreamTimeout("slow"), "failure"),
        (403, VerificationError("checksum mismatch"), "failure"),
        (503, StorageError("disk"), "failure"),
        (500, RuntimeError("bug"), "failure"),
        (500, None, "failure"),
        (503, None, "failure"),
        (429, None, "failure"),
    ],
)
def test_classify(status: int, exc: BaseException | None, outcome: str) -> None:
    assert sli.classify(status, exc) == outcome


def _series(app: ProxyApp) -> dict[tuple[str, str], float]:
    text = app.metrics.render().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("gomodproxy_download_responses_total{"):
            labels, value = line.rsplit(" ", 1)
            d = dict(kv.split("=") for kv in labels[labels.index("{") + 1 : -1].split(","))
            out[(d["artifact"].strip('"'), d["outcome"].strip('"'))] = float(value)
    return out


async def test_server_counts_sli_and_logs_it(tmp_path: Path) -> None:
    """Hot hits, misses, a missing version (success) and an upstream fault hidden as 404
    (failure) land in gomodproxy_download_responses_total and in the request log."""
    source = FakeSource()
    source.add(MOD, "v1.0.0")
    source.answers[("zip", MOD, "v1.1.0")] = UpstreamError("upstream answered 500")
    source.answers[("info", MOD, "v1.1.0")] = b'{"Version":"v1.1.0"}'
    source.answers[("list", MOD, "")] = b"v1.0.0\n"
    app, out = make_full_app(tmp_path, source)
    assert _series(app) == {
        (a, o): 0.0 for a in ("info", "mod", "zip") for o in ("success", "failure")
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for _ in range(3):  # miss, then hot hits
            assert (await c.get(f"/{MOD}/@v/v1.0.0.zip")).status_code == 200
        assert (await c.get(f"/{MOD}/@v/v1.0.0.mod")).status_code == 200
        assert (await c.get(f"/{MOD}/@v/v9.9.9.info")).status_code == 404  # a query
        assert (await c.get(f"/{MOD}/@v/v1.9.9.mod")).status_code == 404
        assert (await c.get(f"/{MOD}/@v/v9.0.0.mod")).status_code == 404  # path won't parse
        assert (await c.get(f"/{MOD}/@v/v1.1.0.zip")).status_code == 404
        assert (await c.get(f"/{MOD}/@v/list")).status_code == 200  # not a download
    series = _series(app)
    assert series[("zip", "success")] == 3
    assert series[("zip", "failure")] == 1
    assert series[("mod", "success")] == 3
    assert series[("mod", "failure")] == 0
    assert series[("info", "success")] == 1
    assert series[("info", "failure")] == 0
    assert app.request_log is not None
    app.request_log.flush()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    by_path: dict[str, list[str | None]] = {}
    for rec in lines:
        by_path.setdefault(rec["path"], []).append(rec.get("sli"))
    assert by_path[f"/{MOD}/@v/v1.0.0.zip"] == ["success"] * 3
    assert by_path[f"/{MOD}/@v/v9.9.9.info"] == ["success"]
    assert by_path[f"/{MOD}/@v/v1.9.9.mod"] == ["success"]
    assert by_path[f"/{MOD}/@v/v1.1.0.zip"] == ["failure"]
    assert by_path[f"/{MOD}/@v/list"] == [None]


async def test_exported_metric_families(tmp_path: Path) -> None:
    """Every metric the Prometheus rules use is exported from start-up."""
    app, _ = make_full_app(tmp_path, FakeSource())
    text = app.metrics.render().decode()
    for name in (
        "gomodproxy_download_responses_total",
        "gomodproxy_verification_failures_total",
        "gomodproxy_storage_errors_total",
        'gomodproxy_degraded{component="storage"} 0.0',
        'gomodproxy_degraded{component="redis"} 0.0',
    ):
        assert name in text
    assert "# TYPE gomodproxy_degraded gauge" in text


async def test_bytes_and_process_metrics(tmp_path: Path) -> None:
    """Body bytes per route (HEAD sends none) and the per-worker process gauges."""
    source = FakeSource()
    source.add(MOD, "v1.0.0")
    app, _ = make_full_app(tmp_path, source)
    size = len(source.answers[("zip", MOD, "v1.0.0")])  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for _ in range(2):
            assert len((await c.get(f"/{MOD}/@v/v1.0.0.zip")).content) == size
        assert (await c.head(f"/{MOD}/@v/v1.0.0.zip")).status_code == 200
        text = (await c.get("/metrics")).text
    assert f'gomodproxy_response_bytes_total{{route="zip"}} {2 * size}.0' in text
    assert 'gomodproxy_response_bytes_total{route="info"} 0.0' in text
    pid = os.getpid()
    for name in ("cpu_seconds", "resident_memory_bytes", "open_fds", "start_time_seconds"):
        line = next(x for x in text.splitlines() if x.startswith(f"gomodproxy_process_{name}{{"))
        assert f'pid="{pid}"' in line
        assert float(line.rsplit(" ", 1)[1]) > 0


def test_module_counter_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond MAX_MODULES distinct paths per worker, zips count as module="other"."""
    from gomodproxy.ops import observe
    from gomodproxy.ops.metrics import Metrics
    from gomodproxy.ops.record import RequestRecord
    from gomodproxy.service.requests import parse_request

    monkeypatch.setattr(observe, "MAX_MODULES", 2)
    metrics = Metrics()
    observer = observe.OpsObserver(metrics)
    for name in ("a", "!b", "c", "d", "a"):
        path = f"/example.com/{name}/@v/v1.0.0.zip"
        rec = RequestRecord({"path": path, "method": "GET"}, 0.0)
        rec.route, rec.req, rec.status, rec.size = "zip", parse_request(path), 200, 10
        rec.cache, rec.source = "hit", "memory"
        observer(rec)
    series = {dict(k)["module"]: v for k, v in metrics.extra[observe.MODULE_METRIC].items()}
    assert series == {"example.com/a": 2, "example.com/B": 1, "other": 2}
