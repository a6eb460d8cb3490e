"""Deployment assets are valid for the tools that consume them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def test_kubernetes_manifests_validate_against_schemas() -> None:
    kv = pytest.importorskip("kubernetes_validate")
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "gomodproxy.yaml").read_text()))
    kinds = set()
    for doc in docs:
        kv.validate(doc, "1.37.0", strict=True)
        kinds.add(doc["kind"])
    assert kinds == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}


def test_kubernetes_deployment_probes_health_endpoints() -> None:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "gomodproxy.yaml").read_text())
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_kubernetes_validation_rejects_a_broken_manifest() -> None:
    kv = pytest.importorskip("kubernetes_validate")
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "gomodproxy.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, "1.37.0", strict=True)


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    exe = Path(sys.executable).with_name("gomodproxy")
    unit = (DEPLOY / "systemd" / "gomodproxy.service").read_text()
    unit = unit.replace("/usr/local/bin/gomodproxy", str(exe))
    path = tmp_path / "gomodproxy.service"
    path.write_text(unit)
    out = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    problems = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        # Documentation= points at an installed doc; the test machine has none.
        if line.strip() and "Documentation" not in line
    ]
    assert problems == []
    assert "NoNewPrivileges=yes" in unit
    assert "ProtectSystem=strict" in unit
