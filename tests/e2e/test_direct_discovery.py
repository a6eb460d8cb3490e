"""Direct mode through go-get meta tags and static origins, against the real go command.

A loopback HTTP server plays every host: the go command and gomodproxy reach it as their
HTTP(S) proxy, https fails (CONNECT is refused), and GOINSECURE lets both fall back to http,
where the server answers ``?go-get=1`` with ``go-import`` meta tags. The repository URLs in the
tags are rewritten by git ``insteadOf`` to local repositories.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gomodproxy.config.origins import OriginOverride
from gomodproxy.errors import GoModProxyError
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.sources.direct import DirectSource
from gomodproxy.sources.direct.discovery import Discovery
from tests.e2e.fixtures import LoopbackHTTP, QuietHandler
from tests.e2e.gitfixtures import GitWorld, go_download, go_env_for, go_versions

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

META = {
    "gopkg.in/t.v1": "gopkg.in/t.v1 git https://gopkg.in/t.v1",
    "gopkg.in/t.v2": "gopkg.in/t.v2 git https://gopkg.in/t.v2",
    "vanity.test/lib": "vanity.test/lib git https://code.vanity.test/lib",
    "vanity.test/lib/sub": "vanity.test/lib git https://code.vanity.test/lib",
    "hg.test/repo": "hg.test/repo hg https://hg.test/repo",
}


class _Handler(QuietHandler):
    def do_CONNECT(self) -> None:
        self.send_error(403, "no https here")

    def do_GET(self) -> None:
        url = httpx.URL(self.path)
        path = (url.host + url.path).rstrip("/")
        content = META.get(path)
        if content is None or url.params.get("go-get") != "1":
            self.send_error(404)
            return
        body = (
            "<!DOCTYPE html><html><head>"
            f'<meta name="go-import" content="{content}">'
            "</head><body>go get</body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def meta_proxy() -> Iterator[str]:
    with LoopbackHTTP(_Handler) as server:
        yield server.url


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, meta_proxy: str) -> dict[str, Any]:
    if shutil.which("go") is None:
        pytest.skip("the go command is not installed")
    tmp = tmp_path_factory.mktemp("discovery")
    world = GitWorld(tmp / "world")
    for url in ("https://gopkg.in/t.v1", "https://gopkg.in/t.v2"):
        world.rewrites[url] = tmp / "world" / "repos" / "gopkg"
    r = world.repo("https://gopkg.in/t", name="gopkg")
    r.commit({"t.go": "package t\n"}, date="2020-01-01T00:00:00Z")
    r.tag("v1.0.0")
    r.commit({"u.go": "package t\n"}, date="2020-02-01T00:00:00Z")
    r.tag("v2.0.0")
    r.commit({"w.go": "package t\n"}, date="2020-03-01T00:00:00Z")
    r.tag("v2.1.0", annotated=True)
    r.tag("v3.0.0")
    v = world.repo("https://code.vanity.test/lib")
    v.commit(
        {
            "go.mod": "module vanity.test/lib\n",
            "LICENSE": "MIT\n",
            "lib.go": "package lib\n",
            "sub/go.mod": "module vanity.test/lib/sub\n",
            "sub/s.go": "package sub\n",
        },
        date="2020-01-01T00:00:00Z",
    )
    v.tag("v1.0.0")
    v.tag("sub/v0.3.0")
    base = {k: val for k, val in os.environ.items() if not k.startswith("GO")}
    env = go_env_for(world, base, tmp)
    env.update(
        {
            "HTTP_PROXY": meta_proxy,
            "HTTPS_PROXY": meta_proxy,
            "NO_PROXY": "",
            "GOINSECURE": "gopkg.in,vanity.test,hg.test",
        }
    )
    (tmp / "work").mkdir()
    return {"tmp": tmp, "world": world, "env": env, "proxy": meta_proxy}


CASES = {
    "gopkg.in/t.v1": ["v1.0.0", "v2.0.0", "latest"],
    "gopkg.in/t.v2": ["v2.0.0", "v2.1.0", "v1.0.0", "master", "latest"],
    "vanity.test/lib": ["v1.0.0", "latest"],
    "vanity.test/lib/sub": ["v0.3.0", "latest"],
    "hg.test/repo": ["latest"],
}


async def _ours(src: DirectSource, path: str, query: str, dest: Path) -> dict[str, Any]:
    try:
        if query == "latest":
            listed = (await src.list(path)).decode().split()
            raw = await src.info(path, listed[-1]) if listed else await src.latest(path)
        else:
            raw = await src.info(path, query)
        info = json.loads(raw)
        mod = await src.mod(path, info["Version"])
        await src.zip(path, info["Version"], dest)
        return {
            "Version": info["Version"],
            "Sum": hash_zip(dest),
            "GoModSum": gomod_hash(mod),
            "URL": info["Origin"]["URL"],
        }
    except GoModProxyError as exc:
        return {"error": str(exc)}


def _theirs(res: dict[str, Any]) -> dict[str, Any]:
    if res.get("Error"):
        return {"error": res["Error"]}
    info = json.loads(Path(res["Info"]).read_text())
    return {
        "Version": res["Version"],
        "Sum": res["Sum"],
        "GoModSum": res["GoModSum"],
        "URL": info["Origin"]["URL"],
    }


def _source(setup: dict[str, Any], name: str, **kw: Any) -> DirectSource:
    http = httpx.AsyncClient(proxy=setup["proxy"], follow_redirects=True, timeout=10)
    discovery = Discovery(goinsecure="gopkg.in,vanity.test,hg.test", http=http, **kw)
    return DirectSource(setup["tmp"] / name, git_env=setup["world"].env(), discovery=discovery)


@pytest.mark.parametrize("path", sorted(CASES))
def test_meta_tag_modules_match_go(setup: dict[str, Any], path: str) -> None:
    """Modules found through go-get meta tags (gopkg.in majors, vanity roots, subdirectory
    modules) give go's versions, sums and Origin URL; unsupported VCS fails in both."""
    tmp = setup["tmp"]
    theirs = [
        _theirs(r)
        for r in go_download(setup["env"], [f"{path}@{q}" for q in CASES[path]], tmp / "work")
    ]
    go_list, go_list_err = go_versions(setup["env"], path, tmp / "work")

    async def main() -> tuple[list[dict[str, Any]], list[str] | None]:
        src = _source(setup, "cache-" + path.replace("/", "_"))
        try:
            mine = [
                await _ours(src, path, q, tmp / f"{path.replace('/', '_')}{i}.zip")
                for i, q in enumerate(CASES[path])
            ]
            try:
                listed: list[str] | None = (await src.list(path)).decode().split()
            except GoModProxyError:
                listed = None
            return mine, listed
        finally:
            await src.aclose()
            await src.discovery._client().aclose()

    mine, listed = asyncio.run(main())
    for q, t, m in zip(CASES[path], theirs, mine, strict=True):
        if "error" in t or "error" in m:
            assert ("error" in t) == ("error" in m), (q, t, m)
        else:
            assert m == t, q
    if go_list_err:
        assert not listed, go_list_err
    else:
        assert listed == go_list


def test_unsupported_vcs_error_is_clear(setup: dict[str, Any]) -> None:
    """A meta tag naming hg answers a not-found saying only git is supported."""

    async def main() -> str:
        src = _source(setup, "cache-hg", govcs="*:all")
        try:
            await src.list("hg.test/repo")
        except GoModProxyError as exc:
            return str(exc)
        finally:
            await src.aclose()
            await src.discovery._client().aclose()
        return ""

    assert "not supported" in asyncio.run(main())


def test_static_origin_skips_discovery(setup: dict[str, Any]) -> None:
    """--origin PREFIX=git+URL serves a vanity path with no meta server, with the same sums
    as the go command reaching the same repository through meta tags."""
    tmp = setup["tmp"]
    theirs = _theirs(go_download(setup["env"], ["vanity.test/lib/sub@v0.3.0"], tmp / "work")[0])
    repo = setup["world"].rewrites["https://code.vanity.test/lib"]

    async def main() -> dict[str, Any]:
        src = DirectSource(
            tmp / "cache-origin",
            git_env=setup["world"].env(),
            origins=[OriginOverride("vanity.test/lib", "git", f"file://{repo}")],
        )
        try:
            return await _ours(src, "vanity.test/lib/sub", "v0.3.0", tmp / "origin.zip")
        finally:
            await src.aclose()

    mine = asyncio.run(main())
    assert mine["URL"] == f"file://{repo}"
    assert {k: v for k, v in mine.items() if k != "URL"} == {
        k: v for k, v in theirs.items() if k != "URL"
    }
