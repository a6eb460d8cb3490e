"""The settings in the deployment assets are ones gomodproxy accepts: the Kubernetes
ConfigMap's TOML loads with ``load_settings`` and every ``GOMODPROXY_*`` name in the systemd
environment file is a known option."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gomodproxy.config.settings import OPTION_BY_NAME, load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_configmap_toml_is_valid_settings(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "gomodproxy.yaml").read_text()))
    (configmap,) = [d for d in docs if d and d.get("kind") == "ConfigMap"]
    toml = tmp_path / "gomodproxy.toml"
    toml.write_text(configmap["data"]["gomodproxy.toml"])
    settings = load_settings(str(toml), env={}, ask_go=False)
    for key in ("listen", "storage", "redis"):
        assert settings.origins[key] == f"file {toml}"
    assert settings.server.listen_host_port()[1] == 3000


def test_systemd_environment_names_are_options() -> None:
    text = (DEPLOY / "systemd" / "gomodproxy.env").read_text()
    names = re.findall(r"^#?\s*GOMODPROXY_([A-Z0-9_]+)=", text, re.MULTILINE)
    assert names
    for name in names:
        assert name.lower() in OPTION_BY_NAME, name
