"""Mirror, export, import and offline serving end to end, with the real go command and a real
checksum database (x/mod/sumdb, tools/sumdbtest) on loopback.

The air gap: a program is built online through gomodproxy (go.sum written by the go
command); ``mirror`` fetches that go.sum into a fresh store, ``export`` writes it as a bundle
with the database's lookups and tiles; then, in a network namespace holding nothing but a
loopback interface (no route anywhere), ``import`` verifies the bundle into an empty store and
``serve`` with ``GOPROXY=off`` answers the go command, which builds the same program from
scratch with ``GOFLAGS=-mod=mod GONOSUMDB=``, verifying every module against the database
through the proxy. Its go.sum must equal the online one byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from gomodproxy.localfs.zipfiles import hash_zip
from tests.e2e.fixtures import (
    REPO,
    ModuleVersion,
    Server,
    go,
    server_env,
    start_server,
    write_module,
)
from tests.e2e.test_sumdb import VKEY, SumDB, gosum_lines, start_sumdb

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

if shutil.which("go") is None:
    pytest.skip("the go command is not installed", allow_module_level=True)

PSEUDO = "v0.0.0-20230102030405-abcdefabcdef"
PSEUDO_OLD = "v0.0.0-20220102030405-abcdefabcdee"


def _pkg(path: str, version: str, name: str, requires: str = "") -> ModuleVersion:
    gomod = f"module {path}\n\ngo 1.20\n{requires}"
    src = f'package {name}\n\nconst Version = "{path}@{version}"\n'
    return ModuleVersion(path, version, {"go.mod": gomod.encode(), f"{name}.go": src.encode()})


DEP_OLD = _pkg("example.com/dep", "v1.0.0", "dep")
DEP = _pkg("example.com/dep", "v1.1.0", "dep")
LIB = _pkg("example.com/lib", "v1.0.0", "lib", "\nrequire example.com/dep v1.1.0\n")
TIP = _pkg("example.com/tip", PSEUDO, "tip")
TIP_OLD = _pkg("example.com/tip", PSEUDO_OLD, "tip")
RETRACTING = [
    _pkg("example.com/ret", "v1.0.0", "ret"),
    _pkg("example.com/ret", "v1.1.0", "ret", "\nretract v1.1.0 // broken\n"),
    _pkg("example.com/ret", "v1.2.0-rc.1", "ret"),
    _pkg("example.com/pre", "v0.1.0-beta.1", "pre"),
    _pkg("example.com/pre", "v0.1.0-beta.2", "pre"),
]
MODULES = [DEP_OLD, DEP, LIB, TIP, TIP_OLD, *RETRACTING]
APP_GOMOD = """module example.com/app

go 1.22

require (
\texample.com/dep v1.0.0
\texample.com/lib v1.0.0
\texample.com/tip v0.0.0-20230102030405-abcdefabcdef
)
"""
APP_MAIN = """package main

import (
\t"fmt"

\t"example.com/dep"
\t"example.com/lib"
\t"example.com/tip"
)

func main() { fmt.Println(dep.Version, lib.Version, tip.Version) }
"""
DB = VKEY.split("+")[0]
#: The versions of the online go.sum (graph pruning leaves dep v1.0.0 out; tip's older
#: pseudo-version is never needed).
MODULE_LINES = [DEP, LIB, TIP]


def unshare_works() -> bool:
    """Whether an unprivileged network namespace can be made here (``unshare -rn``)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    out = subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True)
    return out.returncode == 0


def cli(*args: str, env: dict[str, str], netns: bool = False) -> subprocess.CompletedProcess[str]:
    """``gomodproxy ARGS`` in a clean environment (in a network namespace with ``netns``)."""
    cmd = [sys.executable, "-m", "gomodproxy", *args]
    if netns:
        cmd = ["unshare", "-rn", *cmd]
    return subprocess.run(
        cmd, env=server_env(env), capture_output=True, text=True, timeout=300, cwd=REPO
    )


@dataclass
class World:
    tmp: Path
    upstream: Path
    sumdb: SumDB
    online: Server
    app: Path
    online_gosum: bytes
    online_cache: Path

    @property
    def with_db(self) -> dict[str, str]:
        return {"GOSUMDB": f"{VKEY} {self.sumdb.url}"}


def app_dir(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "go.mod").write_text(APP_GOMOD)
    (root / "main.go").write_text(APP_MAIN)
    return root


def go_through(go_env: dict[str, str], proxy: str) -> dict[str, str]:
    return {
        **go_env,
        "GOPROXY": proxy,
        "GOSUMDB": VKEY,
        "GONOSUMDB": "",
        "GONOPROXY": "",
        "GOFLAGS": "-mod=mod -modcacherw",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("airgap")
    upstream = tmp / "upstream"
    for mv in MODULES:
        write_module(upstream, mv)
    records = tmp / "records.txt"
    records.write_text("".join(gosum_lines(mv, tmp) for mv in MODULES))
    db = start_sumdb(records)
    online = start_server(tmp / "online", upstream.as_uri(), env={"GOSUMDB": f"{VKEY} {db.url}"})
    try:
        app = app_dir(tmp / "app")
        home = tmp / "go-online"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GO") and "proxy" not in k}
        env.update(
            GOPATH=str(home),
            GOMODCACHE=str(home / "mod"),
            GOCACHE=str(home / "cache"),
            GOENV="off",
            GOTOOLCHAIN="local",
            HOME=str(tmp),
        )
        out = go(go_through(env, online.url), "build", "-o", os.devnull, ".", cwd=app)
        assert out.returncode == 0, out.stderr
        gosum = (app / "go.sum").read_bytes()
        (app / "go.sum").unlink()
        yield World(tmp, upstream, db, online, app, gosum, home / "mod")
    finally:
        online.kill()
        db.proc.kill()
        db.proc.wait(10)
        if db.proc.stdout is not None:
            db.proc.stdout.close()


@pytest.fixture(scope="module")
def bundle(world: World) -> Path:
    """The online go.sum mirrored into a fresh store and exported with its checksum proofs."""
    (world.tmp / "app.sum").write_bytes(world.online_gosum)
    store = world.tmp / "mirrored"
    up = ["--storage", str(store), "--upstream", world.upstream.as_uri()]
    out = cli("mirror", "--json", str(world.tmp / "app.sum"), *up, env=world.with_db)
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["Event"] == "summary"
    assert summary["Failures"] == []
    assert summary["Fetched"] == summary["Done"] == len(MODULE_LINES)
    path = world.tmp / "app.tar.zst"
    out = cli("export", "--out", str(path), *up, env=world.with_db)
    assert out.returncode == 0, out.stdout + out.stderr
    assert path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd
    return path


def offline_go_sum(world: World, bundle: Path, tmp: Path, go_env: dict[str, str]) -> bytes:
    """Import ``bundle`` and build the app from it, all inside a namespace with no network."""
    store = tmp / "airgapped"
    netns = unshare_works()
    offline_env = {"GOSUMDB": VKEY, "GOPROXY": "off"}
    out = cli("import", str(bundle), "--storage", str(store), env=offline_env, netns=netns)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"verified offline against {DB}" in out.stdout
    app = tmp / "app"
    shutil.copytree(world.app, app)
    env = go_through(go_env, "PROXY")
    driver = [sys.executable, "-m", "tests.e2e.airgap_driver", str(store), str(app)]
    run = subprocess.run(
        (["unshare", "-rn"] if netns else []) + driver,
        input=json.dumps(env),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=server_env(offline_env),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return (app / "go.sum").read_bytes()


class TestAirGap:
    def test_build_from_bundle_only_gives_the_online_go_sum(
        self, world: World, bundle: Path, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """The go command builds the program from nothing but the imported bundle, with
        every outside route blocked, and writes the go.sum it wrote online."""
        if not unshare_works() and os.environ.get("GOMODPROXY_NO_SKIP"):
            pytest.fail("unshare -rn is not available: the air gap would not be enforced")
        assert offline_go_sum(world, bundle, tmp_path, go_env) == world.online_gosum

    def test_offline_lists_and_latest_match_the_go_commands_file_proxy(
        self, world: World, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """The module cache the online build filled, adopted with ``import --from-gomodcache``
        (verified against the database tiles the go command cached there) and served
        offline, answers the go command's list and latest queries exactly as GOPROXY=file://
        over that same cache does."""
        store = tmp_path / "store"
        args = ["--from-gomodcache", str(world.online_cache), "--storage", str(store)]
        out = cli("import", *args, env={"GOSUMDB": VKEY}, netns=unshare_works())
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"verified offline against {DB}" in out.stdout
        srv = start_server(store, "off", env={"GOSUMDB": VKEY})
        try:
            reference = (world.online_cache / "cache" / "download").as_uri()
            queries = [
                ("list", "-m", "-versions", "-json", "example.com/dep"),
                ("list", "-m", "-json", "example.com/dep@latest"),
                ("list", "-m", "-json", "example.com/tip@latest"),
                ("list", "-m", "-versions", "-json", "example.com/tip"),
                ("list", "-m", "-json", "example.com/lib@v1"),
            ]
            for q in queries:
                ours = go({**go_env, "GOPROXY": srv.url, "GOFLAGS": "-modcacherw"}, *q)
                theirs = go({**go_env, "GOPROXY": reference, "GOFLAGS": "-modcacherw"}, *q)
                assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
                assert _without_paths(ours.stdout) == _without_paths(theirs.stdout), q
            status, _, body = srv.get("/example.com/dep/@v/list")
            assert (status, body) == (200, b"v1.0.0\nv1.1.0\n")
            status, _, body = srv.get("/example.com/tip/@latest")
            assert status == 200
            assert json.loads(body)["Version"] == PSEUDO
            assert srv.get("/example.com/dep/@latest")[0] == 404  # tagged only: go uses the list
            assert srv.get("/example.com/absent/@v/list")[0] in (404, 410)
        finally:
            srv.stop()

    def test_import_is_idempotent(self, bundle: Path, tmp_path: Path) -> None:
        """Importing the same bundle twice stores nothing the second time."""
        args = ["import", str(bundle), "--storage", str(tmp_path / "s")]
        first = cli(*args, env={"GOSUMDB": VKEY})
        second = cli(*args, env={"GOSUMDB": VKEY})
        assert first.returncode == second.returncode == 0, first.stderr + second.stderr
        assert f"imported {len(MODULE_LINES)} module versions" in first.stdout
        assert "imported 0 module versions" in second.stdout
        assert f"{len(MODULE_LINES)} already stored" in second.stdout


def _without_paths(text: str) -> str:
    """go list -json output without the local file names (GoMod, Dir), which differ."""
    objs = []
    for chunk in text.replace("}\n{", "}\x00{").split("\x00"):
        if chunk.strip():
            obj = json.loads(chunk)
            obj.pop("GoMod", None)
            obj.pop("Dir", None)
            objs.append(obj)
    return json.dumps(objs, sort_keys=True)


def _members(bundle: Path) -> dict[str, bytes]:
    """The members of a zstd-compressed bundle, in order."""
    with bundle.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as r:
        out = {}
        with tarfile.open(fileobj=r, mode="r|") as tar:
            for m in tar:
                f = tar.extractfile(m)
                assert f is not None
                out[m.name] = f.read()
        return out


def _rewrite(bundle: Path, out: Path, change: dict[str, bytes]) -> None:
    """Copy a bundle as a plain tar, replacing some members."""
    with tarfile.open(out, "w") as tar:
        for name, data in _members(bundle).items():
            info = tarfile.TarInfo(name)
            info.size = len(change.get(name, data))
            tar.addfile(info, io.BytesIO(change.get(name, data)))


class TestTamperedBundle:
    ZIP = "example.com/lib/@v/v1.0.0.zip"

    def test_a_changed_byte_is_refused_and_nothing_is_stored(
        self, bundle: Path, tmp_path: Path
    ) -> None:
        """One flipped byte in a zip: the SHA-256 differs from the manifest, exit 3, and the
        store stays empty."""
        evil = tmp_path / "evil.tar"
        zip_data = _members(bundle)[self.ZIP]
        flipped = zip_data[:100] + bytes([zip_data[100] ^ 1]) + zip_data[101:]
        _rewrite(bundle, evil, {self.ZIP: flipped})
        store = tmp_path / "store"
        out = cli("import", str(evil), "--storage", str(store), env={"GOSUMDB": VKEY})
        assert out.returncode == 3, out.stdout + out.stderr
        assert f"{self.ZIP}: SHA-256 " in out.stderr
        assert "the manifest says" in out.stderr
        assert not any(p.is_file() for p in store.rglob("*") if ".gomodproxy" not in p.parts)

    def test_a_consistent_forgery_is_refused_by_the_checksum_database(
        self, bundle: Path, tmp_path: Path
    ) -> None:
        """A different zip with a manifest rewritten to match it (size, SHA-256, h1) is
        refused against the database the bundle carries: checksum mismatch, exit 3."""
        forged = _pkg("example.com/lib", "v1.0.0", "lib", "\nrequire example.com/dep v1.1.0\n")
        forged.files["evil.go"] = b"package lib\n\nfunc init() { panic(1) }\n"
        data = forged.zip_bytes()
        zpath = tmp_path / "f.zip"
        zpath.write_bytes(data)
        manifest = json.loads(_members(bundle)["manifest.json"])
        for entry in manifest["files"]:
            if entry["key"] == self.ZIP:
                entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
                entry["h1"] = hash_zip(zpath)
        evil = tmp_path / "evil.tar"
        _rewrite(bundle, evil, {self.ZIP: data, "manifest.json": json.dumps(manifest).encode()})
        store = tmp_path / "store"
        out = cli("import", str(evil), "--storage", str(store), env={"GOSUMDB": VKEY})
        assert out.returncode == 3, out.stdout + out.stderr
        assert "example.com/lib@v1.0.0: verifying module: checksum mismatch" in out.stderr
        assert not any(p.is_file() for p in store.rglob("*") if ".gomodproxy" not in p.parts)


class TestMirrorSources:
    def test_a_go_mod_or_go_work_is_walked_by_mvs(self, world: World, tmp_path: Path) -> None:
        """Without a go.sum the module graph is walked: every reachable version's go.mod,
        and zips only for the selected versions (dep v1.1.0, not the v1.0.0 the app asks)."""
        app = app_dir(tmp_path / "app")
        (tmp_path / "go.work").write_text("go 1.22\n\nuse ./app\n")
        for i, source in enumerate([app, tmp_path / "go.work"]):
            store = tmp_path / f"store{i}"
            up = ["--storage", str(store), "--upstream", world.upstream.as_uri()]
            out = cli("mirror", "--json", str(source), *up, env=world.with_db)
            assert out.returncode == 0, out.stdout + out.stderr
            v = store / "example.com"
            assert (v / "dep" / "@v" / "v1.0.0.mod").is_file()
            assert not (v / "dep" / "@v" / "v1.0.0.zip").exists()
            for mod, version in [("dep", "v1.1.0"), ("lib", "v1.0.0"), ("tip", PSEUDO)]:
                assert (v / mod / "@v" / f"{version}.zip").is_file(), (source, mod)
                assert (v / mod / "@v" / f"{version}.ziphash").is_file()

    def test_latest_is_resolved_as_the_go_command_resolves_it(
        self, world: World, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """MODULE@latest mirrors the version ``go list -m M@latest`` names: retracted
        releases skipped, pre-releases only when there is no release."""
        for path in ("example.com/ret", "example.com/pre", "example.com/dep"):
            env = {**go_env, "GOPROXY": world.upstream.as_uri(), "GOFLAGS": "-modcacherw"}
            want = json.loads(go(env, "list", "-m", "-json", f"{path}@latest").stdout)["Version"]
            store = tmp_path / path.replace("/", "_")
            up = ["--storage", str(store), "--upstream", world.upstream.as_uri()]
            out = cli("mirror", "--json", f"{path}@latest", *up, env=world.with_db)
            assert out.returncode == 0, out.stdout + out.stderr
            zips = [
                e["Version"]
                for e in map(json.loads, out.stdout.splitlines()[:-1])
                if e["Path"] == path
            ]
            assert want in zips, (path, want, zips)
            assert (store / path / "@v" / f"{want}.zip").is_file()

    def test_failures_are_listed_with_a_non_zero_exit(self, world: World, tmp_path: Path) -> None:
        """A go.sum line whose hash differs and a version that does not exist both fail,
        each named with its reason; the rest is mirrored."""
        lines = [ln for ln in world.online_gosum.decode().splitlines() if "dep" in ln]
        bad = lines[0].rsplit(" ", 1)[0] + " h1:" + "A" * 43 + "="
        gosum = tmp_path / "go.sum"
        gosum.write_text("\n".join([bad, "example.com/absent v1.0.0/go.mod h1:x=", *lines[1:]]))
        up = ["--storage", str(tmp_path / "s"), "--upstream", world.upstream.as_uri()]
        out = cli("mirror", "--plain", str(gosum), *up, env=world.with_db)
        assert out.returncode == 1, out.stdout + out.stderr
        assert "2 failed:" in out.stderr
        assert "example.com/dep@v1.1.0: zip hash h1:" in out.stderr
        assert "differs from the go.sum line h1:AAAA" in out.stderr
        assert "example.com/absent@v1.0.0: " in out.stderr
        assert "mirror: [" in out.stdout  # plain progress lines
