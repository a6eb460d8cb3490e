"""The Grafana dashboard: well-formed, covers what operators need, and every query names a
metric the server really exports (scraped from the app's /metrics after real requests)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gomodproxy.errors import UpstreamError
from tests.unit.test_server import make_full_app
from tests.unit.test_service import FakeSource

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "gomodproxy.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
_METRIC = re.compile(r"\bgomodproxy_[a-z0-9_]+\b")
_HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def _panels() -> list[dict[str, Any]]:
    dash = json.loads(DASHBOARD.read_text())
    return [p for p in dash["panels"] if p["type"] != "row"]


def _exprs() -> list[str]:
    return [t["expr"] for p in _panels() for t in p["targets"]]


async def _exported(tmp_path: Path) -> set[str]:
    """Sample names on /metrics after a hit, a miss, a missing version, an upstream fault and a
    version list."""
    source = FakeSource()
    source.add("example.com/m", "v1.0.0")
    source.answers[("zip", "example.com/m", "v1.1.0")] = UpstreamError("upstream 500")
    source.answers[("info", "example.com/m", "v1.1.0")] = b'{"Version":"v1.1.0"}'
    source.answers[("list", "example.com/m", "")] = b"v1.0.0\n"
    app, _ = make_full_app(tmp_path, source)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for path in ("v1.0.0.zip", "v1.0.0.zip", "v9.0.0.mod", "v1.1.0.zip", "list"):
            await c.get(f"/example.com/m/@v/{path}")
        text = (await c.get("/metrics")).text
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_dashboard_shape() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "gomodproxy"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert dash["templating"]["list"][0]["type"] == "datasource"
    for p in _panels():
        assert p["targets"], p["title"]
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
    titles = " | ".join(p["title"].lower() for p in _panels())
    for topic in (
        "success ratio",
        "error budget",
        "requests by route",
        "latency percentiles",
        "cache hit ratio",
        "upstream",
        "most-downloaded modules",
        "verification failures",
    ):
        assert topic in titles


async def test_every_query_names_an_exported_metric(tmp_path: Path) -> None:
    exported = await _exported(tmp_path)
    used = {m for e in _exprs() for m in _METRIC.findall(e)}
    assert "gomodproxy_download_responses_total" in used
    missing = set()
    for name in used:
        if name in exported:
            continue
        base = next((name[: -len(s)] for s in _HIST_SUFFIXES if name.endswith(s)), name)
        if base + "_bucket" in exported and name.endswith(_HIST_SUFFIXES):
            continue
        missing.add(name)
    assert not missing, f"dashboard queries metrics the server does not export: {missing}"


async def test_alert_rules_name_exported_metrics(tmp_path: Path) -> None:
    exported = await _exported(tmp_path)
    rules = yaml.safe_load(RULES.read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in _METRIC.findall(e)}
    assert used
    assert used <= exported, used - exported


def test_queries_parse_with_promtool(tmp_path: Path) -> None:
    """Each query (Grafana's $__ variables replaced) as a recording rule: promtool parses it."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    rules = [
        {
            "record": f"dashboard:q{i}",
            "expr": e.replace("$__rate_interval", "5m").replace("$__range", "1d"),
        }
        for i, e in enumerate(_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
