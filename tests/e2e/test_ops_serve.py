"""Operations in a real `gomodproxy serve` with two workers: the SLI summed over workers on
/metrics, the audit log file written by both and complete after SIGTERM, the admin purge."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fixtures import ModuleVersion, Server, build_tree, start_server

pytestmark = [pytest.mark.e2e]

TOKEN = "e2e-admin-token-0123456789abcdef"
BASE = "/example.com/ops/@v/"


def _sli(server: Server) -> dict[tuple[str, str], float]:
    _, _, body = server.get("/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("gomodproxy_download_responses_total{"):
            labels, value = line.rsplit(" ", 1)
            d = dict(kv.split("=", 1) for kv in labels[labels.index("{") + 1 : -1].split(","))
            out[(d["artifact"].strip('"'), d["outcome"].strip('"'))] = float(value)
    return out


def _post(url: str, token: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def test_sli_audit_and_purge_across_workers(tmp_path: Path) -> None:
    upstream = build_tree(
        tmp_path / "upstream",
        [ModuleVersion("example.com/ops", "v1.0.0", {"o.go": b"package ops\n"})],
    )
    token = tmp_path / "admin.token"
    token.write_text(TOKEN + "\n")
    audit = tmp_path / "audit.jsonl"
    server = start_server(
        tmp_path / "data",
        upstream.as_uri(),
        workers=2,
        args=["--set", f"audit_log={audit}", "--set", f"admin_token_file={token}"],
    )
    try:
        paths = [BASE + "v1.0.0.zip"] * 6 + [BASE + "v1.0.0.mod", BASE + "v2.0.0.info"]
        answers = [server.get(p) for p in paths]
        assert [a[0] for a in answers] == [200] * 7 + [404]
        zip_bytes = (upstream / "example.com/ops/@v/v1.0.0.zip").read_bytes()
        assert all(a[2] == zip_bytes for a in answers[:6])
        # Workers publish their counters about once a second; wait until /metrics sums them.
        # v2.0.0 does not exist: its 404 is a correct answer, a success.
        want = {("zip", "success"): 6, ("mod", "success"): 1, ("info", "success"): 1}
        deadline = time.monotonic() + 30
        sli = _sli(server)
        while time.monotonic() < deadline and any(sli.get(k) != v for k, v in want.items()):
            time.sleep(0.2)
            sli = _sli(server)
        assert {k: sli.get(k) for k in want} == want
        assert sum(v for (_, outcome), v in sli.items() if outcome == "failure") == 0
        status, body = _post(
            server.url + "/admin/purge?module=example.com/ops&version=v1.0.0", TOKEN
        )
        assert status == 200
        assert sorted(body["deleted"]) == [
            "example.com/ops/@v/v1.0.0.mod",
            "example.com/ops/@v/v1.0.0.zip",
            "example.com/ops/@v/v1.0.0.ziphash",
        ]
        assert not (tmp_path / "data" / "example.com" / "ops" / "@v" / "v1.0.0.zip").exists()
        assert "gomodproxy status" in server.get("/")[2].decode()
    finally:
        assert server.stop() == 0
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    events = [(r["event"], r["artifact"], r["status"]) for r in lines if r["event"] != "purge"]
    assert sorted(events) == sorted(
        [("download", "zip", 200)] * 6 + [("download", "mod", 200), ("not_found", "info", 404)]
    )
    (purge,) = [r for r in lines if r["event"] == "purge"]
    assert purge["module"] == "example.com/ops"
    assert purge["identity"] == "admin"
