"""nginx in front of gomodproxy with the config `gomodproxy nginx-config` prints, and the real
go command through it: misses reach gomodproxy, stored artifacts come from nginx alone."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fixtures import (
    ModuleVersion,
    Server,
    build_tree,
    go,
    http_get,
    start_server,
)
from tests.e2e.nginx_front import Nginx, generate_front_config, nginx_available

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

if shutil.which("go") is None or not nginx_available():
    pytest.skip("go and nginx are needed", allow_module_level=True)

LIB = "example.com/Lib"  # upper case: the escaped path (!lib) is the file name
APP_GOMOD = f"module example.com/app\n\ngo 1.20\n\nrequire {LIB} v1.1.0\n"
APP_MAIN = f'package main\n\nimport "{LIB}"\n\nfunc main() {{ println(lib.Hello()) }}\n'


def _lib(version: str) -> ModuleVersion:
    source = f'package lib\n\nfunc Hello() string {{ return "{version}" }}\n'
    return ModuleVersion(
        LIB, version, {"go.mod": f"module {LIB}\n".encode(), "lib.go": source.encode()}
    )


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Nginx]]:
    base = tmp_path_factory.mktemp("front")
    upstream = build_tree(base / "upstream", [_lib("v1.0.0"), _lib("v1.1.0")])
    server = start_server(base / "data", upstream.as_uri())
    nginx = None
    try:
        port = int(server.url.rsplit(":", 1)[1])
        text, nport = generate_front_config(
            base / "nginx", base / "data", port, access_log=str(base / "nginx" / "access.log")
        )
        nginx = Nginx(base / "nginx", text, nport)
        nginx.start()
        yield server, nginx
    finally:
        if nginx is not None:
            nginx.stop()
        server.stop()


def _zip_requests(server: Server) -> float:
    """Zips gomodproxy itself answered (its /metrics; one worker, so always current)."""
    _, _, body = server.get("/metrics")
    for line in body.decode().splitlines():
        series = line.startswith("gomodproxy_http_requests_total{")
        if series and 'route="zip"' in line and 'code="200"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _build(env: dict[str, str], work: Path) -> str:
    """go mod tidy (resolves, downloads and checks every artifact) and the download record."""
    work.mkdir()
    (work / "go.mod").write_text(APP_GOMOD)
    (work / "main.go").write_text(APP_MAIN)
    got = go(env, "mod", "tidy", cwd=work)
    assert got.returncode == 0, got.stderr
    dl = go(env, "mod", "download", "-json", f"{LIB}@v1.1.0", cwd=work)
    assert dl.returncode == 0, dl.stderr
    record = json.loads(dl.stdout)
    return (
        f"{record['Version']}|{record['Sum']}|{record['GoModSum']}|" + (work / "go.sum").read_text()
    )


def test_go_through_nginx_front(
    front: tuple[Server, Nginx], go_env: dict[str, str], tmp_path: Path
) -> None:
    server, nginx = front
    env = {**go_env, "GOPROXY": nginx.url, "GOFLAGS": "-modcacherw"}
    first = _build(env, tmp_path / "one")
    assert first.startswith("v1.1.0|")
    fetched = _zip_requests(server)
    assert fetched == 1  # the cold zip went through nginx to gomodproxy

    # A fresh module cache: the zip, .mod and .info now come from the files, not gomodproxy.
    env2 = {**env, "GOMODCACHE": str(tmp_path / "cache2")}
    second = _build(env2, tmp_path / "two")
    assert second == first  # same output and same go.sum hashes
    assert _zip_requests(server) == fetched

    # Lists stay gomodproxy's (mutable); versions as the upstream has them.
    versions = go(env2, "list", "-m", "-versions", "-json", LIB, cwd=tmp_path / "two")
    assert versions.returncode == 0, versions.stderr
    assert json.loads(versions.stdout)["Versions"] == ["v1.0.0", "v1.1.0"]

    status, headers, body = http_get(nginx.url + "/example.com/!lib/@v/v1.1.0.zip")
    assert status == 200
    assert headers["content-type"] == "application/zip"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    direct = http_get(server.url + "/example.com/!lib/@v/v1.1.0.zip")
    assert body == direct[2]
    status, headers, _ = http_get(nginx.url + "/example.com/!lib/@v/v1.1.0.mod")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    # a miss that does not exist anywhere is gomodproxy's text/plain 404
    status, headers, body = http_get(nginx.url + "/example.com/!lib/@v/v9.0.0.mod")
    assert status == 404
    assert headers["content-type"].startswith("text/plain")
    # the work directory inside the storage is never served
    status, _, _ = http_get(nginx.url + "/.gomodproxy/x/@v/v1.0.0.zip")
    assert status in (400, 404)
    # the status page and metrics come through the front
    assert http_get(nginx.url + "/")[0] == 200
    access = (nginx.workdir / "access.log").read_text()
    assert "/example.com/!lib/@v/v1.1.0.zip" in access
