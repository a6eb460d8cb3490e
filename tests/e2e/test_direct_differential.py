"""Direct mode against the real go command: same versions, times, hashes and Origin — or both fail.

One module-scoped world holds git repositories covering the layouts cmd/go knows: tags of every
kind (lightweight, annotated, non-canonical, incomplete, pseudo-looking), branches, hashes,
subdirectory modules, major-version subdirectories and branches, ``+incompatible``, gopkg.in
paths, ``.gitattributes`` eol/export rules, symlinks, nested modules, vendor directories,
LICENSE placement, unicode and invalid file names. ``GOPROXY=direct go mod download -json``
and ``go list -m -versions`` run once per module (in parallel); gomodproxy's DirectSource
answers the same queries from its own repository cache.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import GoModProxyError
from gomodproxy.gomod import semver
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.sources.direct import DirectSource
from tests.e2e.gitfixtures import GitWorld, Symlink, go_download, go_env_for, go_versions

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

D1 = "2021-01-01T00:00:00Z"
D2 = "2021-01-02T03:04:05+05:00"
D3 = "2021-01-03T00:00:00Z"
D4 = "2021-01-04T00:00:00Z"


@dataclass
class World:
    git: GitWorld
    go_env: dict[str, str]
    tmp: Path
    cases: dict[str, list[str]]
    results: dict[str, list[dict[str, Any]]]
    versions: dict[str, tuple[list[str], str]]


def _build(world: GitWorld) -> dict[str, list[str]]:
    cases: dict[str, list[str]] = {}

    # 1. Root module: tags of every kind, branches, hashes.
    r = world.repo("https://github.com/t/tags")
    c1 = r.commit(
        {"go.mod": "module github.com/t/tags\n\ngo 1.20\n", "a.go": "package a\n"}, date=D1
    )
    r.tag("v1.0.0")
    r.tag("v1.1.0", annotated=True)
    r.tag("v1.1")  # incomplete: not a version
    c2 = r.commit({"b.go": "package a\n"}, date=D2)
    r.tag("v1.2.0+meta")
    r.tag("v1.2.1-0.20200101000000-abcdefabcdef")  # looks like a pseudo-version: ignored
    r.commit({"c.go": "package a\n"}, date=D3)
    r.tag("v1.3.0-rc.1")
    r.branch("feature", c2)
    head = r.commit({"d.go": "package a\n"}, date=D4)
    cases["github.com/t/tags"] = [
        "v1.0.0",
        "v1.1.0",
        "v1.1",
        "v1.2.0+meta",
        "v1.2.0",
        "v1.3.0-rc.1",
        "v9.9.9",
        "main",
        "feature",
        "latest",
        head,
        head[:7],
        c1[:12],
        c2,
        f"v1.2.1-0.{_stamp(D2)}-{c2[:12]}",  # valid pseudo-version on the +meta commit
        f"v1.3.0-rc.1.0.{_stamp(D4)}-{head[:12]}",
        f"v1.3.0-rc.1.0.{_stamp(D4)}-{head[:11]}",  # too short
        f"v1.3.0-rc.1.0.{_stamp(D1)}-{head[:12]}",  # wrong time
        f"v0.0.0-{_stamp(D4)}-{head[:12]}",  # base must be the tag
        f"v1.0.1-0.{_stamp(D1)}-{c1[:12]}",  # the commit is tagged v1.0.0
    ]

    # 2. Subdirectory modules, nested module dropped, root LICENSE added, tags with prefixes.
    r = world.repo("https://github.com/t/mono")
    r.commit(
        {
            "go.mod": "module github.com/t/mono\n",
            "LICENSE": "root license\n",
            "root.go": "package mono\n",
            "sub/go.mod": "module github.com/t/mono/sub\n",
            "sub/s.go": "package sub\n",
            "sub/deeper/x.go": "package deeper\n",
            "withlic/go.mod": "module github.com/t/mono/withlic\n",
            "withlic/LICENSE": "own license\n",
            "nomod/n.go": "package nomod\n",
        },
        date=D1,
    )
    r.tag("v1.0.0")
    r.tag("sub/v0.1.0")
    r.tag("withlic/v0.2.0")
    r.tag("nomod/v1.0.0")
    r.commit({"sub/t.go": "package sub\n"}, date=D2)
    r.tag("sub/v0.2.0", annotated=True)
    r.commit({"sub/u.go": "package sub\n"}, date=D3)
    cases["github.com/t/mono"] = ["v1.0.0", "latest", "main"]
    cases["github.com/t/mono/sub"] = ["v0.1.0", "v0.2.0", "main", "latest", "v1.0.0"]
    cases["github.com/t/mono/withlic"] = ["v0.2.0", "main"]
    cases["github.com/t/mono/nomod"] = ["v1.0.0", "main"]
    cases["github.com/t/mono/sub/deeper"] = ["main", "latest"]

    # 3. Major-version subdirectory and major branch.
    r = world.repo("https://github.com/t/majors")
    r.commit(
        {
            "go.mod": "module github.com/t/majors\n",
            "m.go": "package majors\n",
            "LICENSE": "L\n",
            "v2/go.mod": "module github.com/t/majors/v2\n",
            "v2/m.go": "package majors\n",
        },
        date=D1,
    )
    r.tag("v1.0.0")
    r.tag("v2.0.0")
    r.commit({"v2/n.go": "package majors\n"}, date=D2)
    r.tag("v2.1.0")
    cases["github.com/t/majors"] = ["v1.0.0", "v2.0.0", "v2.0.0+incompatible", "latest", "main"]
    cases["github.com/t/majors/v2"] = ["v2.0.0", "v2.1.0", "v1.0.0", "main", "latest"]

    r = world.repo("https://github.com/t/branchmajor")
    r.commit({"go.mod": "module github.com/t/branchmajor/v3\n", "x.go": "package x\n"}, date=D1)
    r.tag("v3.0.0")
    r.commit({"y.go": "package x\n"}, date=D2)
    r.tag("v3.1.0-rc.1", annotated=True)
    r.commit({"z.go": "package x\n"}, date=D3)
    r.tag("v2.5.0")  # wrong major for /v3
    cases["github.com/t/branchmajor/v3"] = ["v3.0.0", "v3.1.0-rc.1", "main", "latest", "v2.5.0"]
    cases["github.com/t/branchmajor"] = ["v3.0.0", "v3.0.0+incompatible", "latest"]

    # 4. +incompatible: no go.mod at the root; v4/ gets a go.mod later.
    r = world.repo("https://github.com/t/incompat")
    r.commit({"i.go": "package incompat\n"}, date=D1)
    r.tag("v1.0.0")
    r.tag("v2.0.0")
    r.commit({"j.go": "package incompat\n"}, date=D2)
    r.tag("v3.0.0")
    r.tag("v3.1.0")
    r.commit({"v4/go.mod": "module github.com/t/incompat/v4\n", "v4/k.go": "package k\n"}, date=D3)
    r.tag("v4.0.0")
    r.commit({"l.go": "package incompat\n"}, date=D4)
    r.tag("v2.0.0+incompatible")  # a tag with build metadata is never a version
    cases["github.com/t/incompat"] = [
        "v1.0.0",
        "v2.0.0",
        "v2.0.0+incompatible",
        "v3.1.0+incompatible",
        "v4.0.0",
        "v4.0.0+incompatible",
        "main",
        "latest",
    ]
    cases["github.com/t/incompat/v4"] = ["v4.0.0", "main"]

    r = world.repo("https://github.com/t/incompat2")
    r.commit({"go.mod": "module github.com/t/incompat2\n", "a.go": "package a\n"}, date=D1)
    r.tag("v1.0.0")
    r.commit({"go.mod": None, "b.go": "package a\n"}, date=D2)
    r.tag("v2.0.0")
    cases["github.com/t/incompat2"] = ["v1.0.0", "v2.0.0", "v2.0.0+incompatible", "latest"]

    # 5. Zip content: attributes, symlinks, vendor, unicode names, nested go.mod.
    r = world.repo("https://github.com/t/content")
    r.commit(
        {
            "go.mod": "module github.com/t/content\n\ngo 1.23\n",
            ".gitattributes": "*.txt text eol=crlf\n*.go text\nignored.go export-ignore\n"
            "subst.go export-subst\n",
            "doc.txt": "line1\nline2\n",
            "crlf.go": b"package content\r\n// x\r\n",
            "ignored.go": "package content\n",
            "subst.go": "package content\n// $Format:%H$\n",
            "link.go": Symlink("crlf.go"),
            "vendor/modules.txt": "# vendor\n",
            "vendor/top.go": "package vendor\n",
            "vendor/dep/dep.go": "package dep\n",
            "pkg/vendor/vendor.go": "package vendor\n",
            "nested/go.mod": "module github.com/t/content/nested\n",
            "nested/n.go": "package nested\n",
            "ünïcødé/é.go": "package x\n",
            ".svn/entries": "kept: only CreateFromDir drops VCS directories\n",
            "GO.MOD.txt": "not a go.mod\n",
        },
        date=D1,
    )
    r.tag("v1.0.0")
    r.commit({"go.mod": "module github.com/t/content\n\ngo 1.24\n"}, date=D2)
    r.tag("v1.1.0")
    r.commit({"bad'name.go": "package content\n"}, date=D3)
    r.tag("v1.2.0")
    r.commit({"bad'name.go": None, "sub/GO.MOD": "module x\n"}, date=D4)
    r.tag("v1.3.0")
    cases["github.com/t/content"] = ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"]

    # 6. Wrong module paths and missing go.mod.
    r = world.repo("https://github.com/t/wrong")
    r.commit({"go.mod": "module example.test/other\n", "a.go": "package a\n"}, date=D1)
    r.tag("v1.0.0")
    r.commit({"go.mod": "module github.com/t/wrong/v2\n"}, date=D2)
    r.tag("v1.1.0")
    r.commit({"go.mod": "// no module line\n"}, date=D3)
    r.tag("v1.2.0")
    cases["github.com/t/wrong"] = ["v1.0.0", "v1.1.0", "v1.2.0", "main"]
    cases["github.com/t/wrong/v2"] = ["v1.1.0", "main"]

    # 7. An untagged repository and an empty one.
    r = world.repo("https://github.com/t/untagged")
    r.commit({"go.mod": "module github.com/t/untagged\n", "a.go": "package a\n"}, date=D2)
    cases["github.com/t/untagged"] = ["latest", "main", "v0.0.0"]
    cases["github.com/t/nosuchrepo"] = ["latest", "v1.0.0"]
    return cases


def _stamp(date: str) -> str:
    when = datetime.fromisoformat(date.replace("Z", "+00:00"))
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    if shutil.which("go") is None:
        pytest.skip("the go command is not installed")
    tmp = tmp_path_factory.mktemp("direct")
    gw = GitWorld(tmp / "world")
    cases = _build(gw)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env = go_env_for(gw, base, tmp)
    work = tmp / "work"
    work.mkdir()

    def run(path: str) -> tuple[str, list[dict[str, Any]], tuple[list[str], str]]:
        targets = [f"{path}@{q}" for q in cases[path]]
        return path, go_download(env, targets, work), go_versions(env, path, work)

    results: dict[str, list[dict[str, Any]]] = {}
    versions: dict[str, tuple[list[str], str]] = {}
    with ThreadPoolExecutor(8) as ex:
        for path, res, vers in ex.map(run, cases):
            results[path] = res
            versions[path] = vers
    return World(gw, env, tmp, cases, results, versions)


def _go_side(res: dict[str, Any]) -> dict[str, Any]:
    if res.get("Error"):
        return {"error": res["Error"]}
    info = json.loads(Path(res["Info"]).read_text())
    return {
        "Version": res["Version"],
        "Time": info.get("Time"),
        "Sum": res.get("Sum"),
        "GoModSum": res.get("GoModSum"),
        "Origin": _origin(info.get("Origin")),
    }


def _origin(origin: dict[str, str] | None) -> dict[str, str] | None:
    # The go command caches one .info per version, written by whichever query resolved to it
    # first (a hash query leaves no Ref), so Ref is compared by the serve test, not here.
    if origin is None:
        return None
    return {k: v for k, v in origin.items() if k != "Ref"}


async def _our_side(src: DirectSource, path: str, query: str, dest: Path) -> dict[str, Any]:
    try:
        if query == "latest":
            listed = (await src.list(path)).decode().split()
            releases = [v for v in listed if not semver.prerelease(v)]
            pick = semver.sort_versions(releases or listed)
            info = json.loads(await src.info(path, pick[-1]) if pick else await src.latest(path))
        else:
            info = json.loads(await src.info(path, query))
        version = info["Version"]
        mod = await src.mod(path, version)
        await src.zip(path, version, dest)
        return {
            "Version": version,
            "Time": info["Time"],
            "Sum": hash_zip(dest),
            "GoModSum": gomod_hash(mod),
            "Origin": _origin(info.get("Origin")),
        }
    except GoModProxyError as exc:
        return {"error": str(exc)}


@pytest.fixture(scope="module")
def ours(world: World) -> Ours:
    async def main() -> Ours:
        src = DirectSource(world.tmp / "cache", git_env=world.git.env(), govcs="*:all")
        out: Ours = {}

        async def one(path: str) -> None:
            answers = []
            for i, q in enumerate(world.cases[path]):
                dest = world.tmp / "zips" / f"{path.replace('/', '_')}-{i}.zip"
                dest.parent.mkdir(exist_ok=True)
                answers.append(await _our_side(src, path, q, dest))
            mod_error: str | None = None
            try:
                listed: list[str] | None = (await src.list(path)).decode().split()
            except GoModProxyError:
                listed = None
            if listed:
                releases = [v for v in listed if not semver.prerelease(v)] or listed
                try:
                    await src.mod(path, semver.sort_versions(releases)[-1])
                except GoModProxyError as exc:
                    mod_error = str(exc)
            out[path] = (answers, listed, mod_error)

        try:
            await asyncio.gather(*(one(p) for p in world.cases))
        finally:
            await src.aclose()
        return out

    return asyncio.run(main())


MODULES = [
    "github.com/t/tags",
    "github.com/t/mono",
    "github.com/t/mono/sub",
    "github.com/t/mono/withlic",
    "github.com/t/mono/nomod",
    "github.com/t/mono/sub/deeper",
    "github.com/t/majors",
    "github.com/t/majors/v2",
    "github.com/t/branchmajor/v3",
    "github.com/t/branchmajor",
    "github.com/t/incompat",
    "github.com/t/incompat/v4",
    "github.com/t/incompat2",
    "github.com/t/content",
    "github.com/t/wrong",
    "github.com/t/wrong/v2",
    "github.com/t/untagged",
    "github.com/t/nosuchrepo",
]
Ours = dict[str, tuple[list[dict[str, Any]], list[str] | None, str | None]]


def test_every_module_is_covered(world: World) -> None:
    """The parametrized module list names exactly the modules the world defines."""
    assert sorted(world.cases) == sorted(MODULES)


@pytest.mark.parametrize("path", MODULES)
def test_download_matches_go(world: World, ours: Ours, path: str) -> None:
    """Every query of the module resolves to the same Version, Time, Sum, GoModSum and Origin
    as GOPROXY=direct go mod download, or fails in both."""
    mismatches = []
    for i, query in enumerate(world.cases[path]):
        theirs = _go_side(world.results[path][i])
        mine = ours[path][0][i]
        if "error" in theirs or "error" in mine:
            if ("error" in theirs) != ("error" in mine):
                mismatches.append((query, theirs, mine))
        elif mine != theirs:
            mismatches.append((query, theirs, mine))
    assert not mismatches, "\n".join(f"{q}:\n  go:   {t}\n  ours: {m}" for q, t, m in mismatches)


@pytest.mark.parametrize("path", MODULES)
def test_version_list_matches_go(world: World, ours: Ours, path: str) -> None:
    """@v/list equals go list -m -versions, or both fail.

    ``go list -m -versions`` also loads the retractions of the highest version; when that is
    what failed, the raw list is not visible, and gomodproxy must fail the same .mod instead.
    """
    theirs, error = world.versions[path]
    mine = ours[path][1]
    if not error:
        assert mine == theirs
    elif "loading module retractions" in error:
        assert mine, error
        assert ours[path][2] is not None, (error, "our .mod of the highest version succeeded")
    else:
        assert mine is None or mine == [], (error, mine)
