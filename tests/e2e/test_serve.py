"""The real go command through ``gomodproxy serve``, fed by a fixture ``file://`` upstream.

Every answer is compared with what the same go command gets from the same upstream without
gomodproxy in between (``GOPROXY=file://...``): versions, hashes and go.sum lines.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fixtures import (
    ModuleVersion,
    Server,
    go,
    parse_json_stream,
    start_server,
    write_module,
)

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

if shutil.which("go") is None:
    pytest.skip("the go command is not installed", allow_module_level=True)


def _gomod(path: str, *requires: str) -> bytes:
    req = "".join(f"require {r}\n" for r in requires)
    return f"module {path}\n\ngo 1.20\n\n{req}".encode()


def _lib(path: str, name: str, body: str, *requires: str, imports: str = "") -> dict[str, bytes]:
    source = f"package {name}\n\n{imports}\nfunc {name.upper()}() string {{ {body} }}\n"
    return {"go.mod": _gomod(path, *requires), f"{name}.go": source.encode()}


FIXTURE = [
    ModuleVersion("example.com/c", "v1.0.0", _lib("example.com/c", "c", 'return "c1.0.0"')),
    ModuleVersion("example.com/c", "v1.2.0", _lib("example.com/c", "c", 'return "c1.2.0"')),
    ModuleVersion(
        "example.com/b",
        "v1.1.0",
        _lib(
            "example.com/b",
            "b",
            'return "b>" + c.C()',
            "example.com/c v1.0.0",
            imports='import "example.com/c"\n',
        ),
    ),
    ModuleVersion(
        "example.com/a",
        "v1.0.0",
        _lib(
            "example.com/a",
            "a",
            'return "a>" + b.B()',
            "example.com/b v1.1.0",
            imports='import "example.com/b"\n',
        ),
    ),
    ModuleVersion(
        "example.com/Upper/m",
        "v1.0.0-RC1",
        _lib("example.com/Upper/m", "m", 'return "M"'),
    ),
]
PSEUDO = ModuleVersion(
    "example.com/c",
    "v1.2.1-0.20230301000000-abcdefabcdef",
    _lib("example.com/c", "c", 'return "c-main"'),
    time="2023-03-01T00:00:00Z",
    listed=False,
)


@functools.cache
def shared_gocache() -> str:
    """The machine's build cache: content-addressed, safe to share, and it spares each test
    run compiling the runtime again (module downloads never go through it)."""
    out = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or os.path.join(tempfile.gettempdir(), "gomodproxy-test-gocache")


def go_env(base: Path, goproxy: str) -> dict[str, str]:
    """An isolated environment for the go command (own module cache, no network, no sumdb)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GO") and "proxy" not in k.lower()
    }
    env.update(
        GOPATH=str(base / "gopath"),
        GOMODCACHE=str(base / "gopath" / "pkg" / "mod"),
        GOCACHE=shared_gocache(),
        GOENV="off",
        GOFLAGS="-modcacherw",
        GOPROXY=goproxy,
        GOSUMDB="off",
        GOTOOLCHAIN="local",
        GONOSUMDB="",
        GOPRIVATE="",
        HOME=str(base / "home"),
    )
    (base / "home").mkdir(parents=True, exist_ok=True)
    return env


def make_app(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "go.mod").write_text("module example.com/app\n\ngo 1.20\n")
    (where / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/a"\n)\n\n'
        "func main() { fmt.Println(a.A()) }\n"
    )
    return where


@pytest.fixture(scope="module")
def upstream_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("upstream")
    for mv in FIXTURE:
        write_module(root, mv)
    write_module(root, PSEUDO, aliases=["main"])
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, upstream_tree: Path) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("data")
    srv = start_server(data, upstream_tree.as_uri(), workers=2)
    yield srv
    srv.stop()


def _download(env: dict[str, str], cwd: Path, *targets: str) -> list[dict[str, object]]:
    out = go(env, "mod", "download", "-json", *targets, cwd=cwd)
    assert out.returncode == 0, out.stderr + out.stdout
    return parse_json_stream(out.stdout)


class TestGoCommandThroughServer:
    def test_mod_download_json_matches_direct_upstream(
        self, server: Server, upstream_tree: Path, tmp_path: Path
    ) -> None:
        """go mod download -json gives the same versions and hashes through us as from the tree."""
        targets = ["example.com/a@v1.0.0", "example.com/c@v1.2.0", "example.com/Upper/m@v1.0.0-RC1"]
        app = make_app(tmp_path / "app")
        ours = _download(go_env(tmp_path / "ours", server.url), app, *targets)
        theirs = _download(go_env(tmp_path / "theirs", upstream_tree.as_uri()), app, *targets)
        fields = ("Path", "Version", "Sum", "GoModSum")
        assert [{k: o.get(k) for k in fields} for o in ours] == [
            {k: o.get(k) for k in fields} for o in theirs
        ]
        assert all(o.get("Sum", "").startswith("h1:") for o in ours)
        assert not any("Error" in o for o in ours)

    def test_list_versions(self, server: Server, tmp_path: Path) -> None:
        """go list -m -versions shows the listed versions, no pseudo-versions."""
        app = make_app(tmp_path / "app")
        out = go(go_env(tmp_path, server.url), "list", "-m", "-versions", "example.com/c", cwd=app)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "example.com/c v1.0.0 v1.2.0"

    def test_get_latest_and_branch(self, server: Server, tmp_path: Path) -> None:
        """go get M@latest picks the highest version; M@main resolves the branch query."""
        app = make_app(tmp_path / "app")
        env = go_env(tmp_path, server.url)
        out = go(env, "get", "example.com/c@latest", cwd=app)
        assert out.returncode == 0, out.stderr
        assert "example.com/c v1.2.0" in (app / "go.mod").read_text()
        out = go(env, "get", "example.com/c@main", cwd=app)
        assert out.returncode == 0, out.stderr
        assert f"example.com/c {PSEUDO.version}" in (app / "go.mod").read_text()

    def test_build_three_level_graph_go_sum_equal(
        self, server: Server, upstream_tree: Path, tmp_path: Path
    ) -> None:
        """go build of app → a → b → c works, and go.sum equals the one made without us."""
        sums = []
        for name, proxy in (("ours", server.url), ("theirs", upstream_tree.as_uri())):
            app = make_app(tmp_path / name / "app")
            env = go_env(tmp_path / name, proxy)
            out = go(env, "mod", "tidy", cwd=app)
            assert out.returncode == 0, out.stderr
            out = go(env, "build", "-o", str(tmp_path / name / "bin"), ".", cwd=app)
            assert out.returncode == 0, out.stderr
            sums.append((app / "go.sum").read_text())
        assert sums[0] == sums[1]
        assert sums[0].count("\n") == 6  # a, b, c: each with zip and go.mod lines
        assert "example.com/c v1.0.0 h1:" in sums[0]

    def test_unknown_module_is_404_text(self, server: Server, tmp_path: Path) -> None:
        """An absent module answers 404 text/plain, so the go command prints the reason."""
        status, headers, body = server.get("/example.com/nope/@v/list")
        assert status == 404
        assert headers["content-type"].startswith("text/plain")
        assert body.startswith(b"not found")
