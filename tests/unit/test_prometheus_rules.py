"""The Prometheus rules are valid and every alert is unit-tested with promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus; make test installs it)")
    return path


def test_rules_pass_promtool_check() -> None:
    out = subprocess.run(
        [promtool(), "check", "rules", "rules.yml"], cwd=DEPLOY, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_tests_pass() -> None:
    out = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yml"], cwd=DEPLOY, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_a_unit_test() -> None:
    rules = yaml.safe_load((DEPLOY / "rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((DEPLOY / "rules_test.yml").read_text())
    tested = {
        t["alertname"]
        for case in tests["tests"]
        for t in case.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    assert "GoModProxyDownloadSLIBelowTarget" in alerts
    assert alerts - tested == set(), "alerts without a firing test"


def test_sli_windows_are_recorded() -> None:
    rules = yaml.safe_load((DEPLOY / "rules.yml").read_text())
    records = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    for window in ("5m", "30m", "1h", "6h"):
        assert f"gomodproxy:download_success:ratio_rate{window}" in records
