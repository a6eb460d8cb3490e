"""`gomodproxy nginx-config`: what it prints and what it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gomodproxy.errors import ConfigError
from gomodproxy.ops.nginx import FrontConfig, render


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"GOPROXY": "off", "GOPRIVATE": "none", "GONOSUMDB": "none", "GOSUMDB": "off"}
    env["PATH"] = "/usr/bin:/bin"
    return subprocess.run(
        [sys.executable, "-m", "gomodproxy", "nginx-config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_full_and_server_only(tmp_path: Path) -> None:
    cfg = FrontConfig(listen="127.0.0.1:8080", upstream="127.0.0.1:3000", storage_root="/srv/d")
    full = render(cfg)
    block = render(cfg, server_only=True)
    assert full.count("server 127.0.0.1:3000;") == 1
    assert "events {" in full
    assert "events {" not in block
    assert 'root "/srv/d";' in block
    assert "try_files $uri @gomodproxy;" in block
    assert "proxy_pass http://gomodproxy;" in block
    tls = render(
        FrontConfig(listen="80", upstream="h:1", storage_root="/d", upstream_tls=True, user="www")
    )
    assert "proxy_pass https://gomodproxy;" in tls
    assert 'user "www";' in tls
    with pytest.raises(ConfigError, match="unusable value"):
        render(FrontConfig(listen="80", upstream="h:1", storage_root='/d"; evil'))


def test_cli_prints_config_for_the_settings(tmp_path: Path) -> None:
    out = _run("--storage", f"file://{tmp_path}", "--listen", "127.0.0.1:3111", "--front", "81")
    assert out.returncode == 0, out.stderr
    assert f'root "{tmp_path.resolve()}";' in out.stdout
    assert "server 127.0.0.1:3111;" in out.stdout
    assert "listen 81;" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--storage", "oci://127.0.0.1:5000/mods"], "is not a local directory"),
        (["--set", "access_rules=corp.example.com=alice"], "would bypass them"),
        (["--set", "anonymous_public=false"], "would bypass them"),
    ],
)
def test_cli_refuses(args: list[str], message: str) -> None:
    out = _run(*args)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
