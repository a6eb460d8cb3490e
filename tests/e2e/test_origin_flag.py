"""``--origin PREFIX=git+URL`` on the command line and ``[[origins]]`` in the config file reach
direct mode: ``gomodproxy mod download`` of a path with no go-get meta server gives the sums the
go command computes for the same repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.config.settings import load_settings
from gomodproxy.errors import ConfigError
from tests.e2e.gitfixtures import GitWorld, go_download, go_env_for

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

# A VCS-qualified path: the go command finds the repository without a meta server (git
# insteadOf maps the URL to a local repository), gomodproxy through the static origin.
MODULE = "example.test/lib.git"


def _repo(tmp_path: Path) -> tuple[GitWorld, Path]:
    world = GitWorld(tmp_path / "world")
    repo = world.repo("https://example.test/lib")
    repo.commit({"go.mod": f"module {MODULE}\n\ngo 1.21\n", "lib.go": "package lib\n"})
    repo.tag("v1.0.0")
    return world, repo.path


def _ours(env: dict[str, str], args: list[str], cwd: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "gomodproxy", "mod", "download", "--json", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("how", ["flag", "config"])
def test_origin_reaches_direct_mode(how: str, go_env: dict[str, str], tmp_path: Path) -> None:
    world, repo = _repo(tmp_path)
    env = go_env_for(world, go_env, tmp_path)
    (tmp_path / "work").mkdir()
    theirs = go_download(env, [f"{MODULE}@v1.0.0"], tmp_path / "work")[0]
    assert "Error" not in theirs

    ours_env = {**env, "GOMODPROXY_VCS_CACHE": str(tmp_path / "vcs")}
    args = ["--upstream", "off", "--set", f"goprivate={MODULE}", "--cache", str(tmp_path / "s")]
    if how == "flag":
        args += ["--origin", f"{MODULE}=git+file://{repo}"]
    else:
        cfg = tmp_path / "gomodproxy.toml"
        cfg.write_text(f'[[origins]]\nprefix = "{MODULE}"\nurl = "file://{repo}"\n')
        args += ["--config", str(cfg)]
    ours = _ours(ours_env, [*args, f"{MODULE}@v1.0.0"], tmp_path)
    assert "Error" not in ours, ours
    for key in ("Version", "Sum", "GoModSum"):
        assert ours.get(key) == theirs[key], (key, ours, theirs)
    assert ours["Sum"].startswith("h1:")


def test_bad_origin_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only git"):
        load_settings(flags={"origins": ["example.test/x=hg+https://example.test/x"]}, ask_go=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text("origins = [1]\n")
    with pytest.raises(ConfigError, match="origins"):
        load_settings(str(cfg), env={}, ask_go=False)


def test_origins_from_environment_and_file_render() -> None:
    settings = load_settings(
        env={"GOMODPROXY_ORIGINS": "a.test/x=git+https://a.test/x.git b.test=git+file:///r"},
        ask_go=False,
    )
    assert settings.upstream.origins == (
        "a.test/x=git+https://a.test/x.git",
        "b.test=git+file:///r",
    )
    assert settings.origins["origins"] == "env GOMODPROXY_ORIGINS"
