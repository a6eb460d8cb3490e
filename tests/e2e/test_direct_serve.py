"""The real go command builds a program through ``gomodproxy serve`` whose only source is
direct mode, and gets the go.sum that ``GOPROXY=direct`` gives."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.gitfixtures import GitWorld, go_env_for

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

if importlib.util.find_spec("gomodproxy.cli.cmd_serve") is None:  # pragma: no cover
    pytest.skip("gomodproxy serve is not built yet", allow_module_level=True)

from tests.e2e.fixtures import go, start_server  # noqa: E402

MAIN = """package main

import (
\t"fmt"

\t"github.com/t/greet"
\t"github.com/t/words/v2"
)

func main() { fmt.Println(greet.Hello(), words.Word()) }
"""


def _world(tmp: Path) -> GitWorld:
    world = GitWorld(tmp / "world")
    w = world.repo("https://github.com/t/words")
    w.commit({"go.mod": "module github.com/t/words\n", "w.go": "package words\n"})
    w.tag("v1.0.0")
    w.commit(
        {
            "v2/go.mod": "module github.com/t/words/v2\n\ngo 1.21\n",
            "v2/w.go": 'package words\n\nfunc Word() string { return "world" }\n',
        },
        date="2021-02-01T00:00:00Z",
    )
    w.tag("v2.0.0", annotated=True)
    g = world.repo("https://github.com/t/greet")
    g.commit(
        {
            "go.mod": "module github.com/t/greet\n\ngo 1.21\n\n"
            "require github.com/t/words/v2 v2.0.0\n",
            "g.go": 'package greet\n\nimport "github.com/t/words/v2"\n\n'
            'func Hello() string { return "hello " + words.Word() }\n',
        },
        date="2021-03-01T00:00:00Z",
    )
    g.commit({"LICENSE": "MIT\n"}, date="2021-03-02T00:00:00Z")  # untagged: a pseudo-version
    return world


def _module(dir_: Path) -> None:
    dir_.mkdir(parents=True)
    (dir_ / "go.mod").write_text("module example.test/app\n\ngo 1.21\n")
    (dir_ / "main.go").write_text(MAIN)


def test_go_builds_through_serve_with_direct_only(tmp_path: Path) -> None:
    """go get + go build through the proxy (GOPROXY=direct upstream) work, and go.sum equals
    the one GOPROXY=direct writes."""
    if shutil.which("go") is None:
        pytest.skip("the go command is not installed")
    world = _world(tmp_path)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    server = start_server(tmp_path / "data", "direct", env={**world.env(), "GOSUMDB": "off"})
    try:
        via = go_env_for(world, base, tmp_path / "via")
        via.update({"GOPROXY": server.url, "GOVCS": "", "GONOSUMDB": "*"})
        direct = go_env_for(world, base, tmp_path / "direct")
        # One build cache for both builds (and across runs): compiling the standard library
        # is not what this test measures.
        gocache = os.environ.get("GOMODPROXY_TEST_GOCACHE") or str(
            Path.home() / ".cache" / "go-build"
        )
        sums = {}
        for name, env in (("via", via), ("direct", direct)):
            env["GOCACHE"] = gocache
            app = tmp_path / f"app-{name}"
            _module(app)
            got = go(env, "get", "github.com/t/greet@main", "github.com/t/words/v2@latest", cwd=app)
            assert got.returncode == 0, got.stderr
            built = go(env, "build", "-o", str(app / "app"), ".", cwd=app)
            assert built.returncode == 0, built.stderr
            sums[name] = (app / "go.sum").read_text()
            mods = (app / "go.mod").read_text()
            assert "github.com/t/greet v0.0.0-20210302000000-" in mods
        assert sums["via"] == sums["direct"]
        listed = go(
            via, "list", "-m", "-versions", "github.com/t/words/v2", cwd=tmp_path / "app-via"
        )
        assert listed.stdout.split() == ["github.com/t/words/v2", "v2.0.0"]
    finally:
        server.stop()
