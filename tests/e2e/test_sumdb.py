"""The checksum database end to end: the real go command, ``gomodproxy serve`` and a real
checksum database (golang.org/x/mod/sumdb, tools/sumdbtest) on loopback.

- ``go mod download`` through gomodproxy with ``GOSUMDB=name+key`` succeeds, the go command
  reaching the database through the proxy's ``/sumdb/`` passthrough;
- a fixture upstream serving a tampered zip is refused by gomodproxy (403, nothing stored),
  so the go command never receives the zip;
- a log that rewrites its history is caught as a fork, and the database is quarantined;
- the proxy's private checksum database is accepted by the go command, across a restart.
"""

from __future__ import annotations

import http.client
import http.server
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.sumdb import note
from tests.e2e.fixtures import (
    REPO,
    LoopbackHTTP,
    ModuleVersion,
    QuietHandler,
    Server,
    escape,
    go,
    start_server,
    write_module,
)

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

if shutil.which("go") is None:
    pytest.skip("the go command is not installed", allow_module_level=True)

DB = "sum.test.example"
SKEY, VKEY = note.generate_key(DB, bytes(range(1, 33)))


def _mod(path: str, version: str, body: str) -> ModuleVersion:
    files = {
        "go.mod": f"module {path}\n\ngo 1.20\n".encode(),
        "x.go": f"package x\n\nconst V = {body!r}\n".replace("'", '"').encode(),
    }
    return ModuleVersion(path, version, files)


A = _mod("example.com/a", "v1.0.0", "a")
B = _mod("example.com/b", "v1.0.0", "b")
EVIL = _mod("example.com/evil", "v1.0.0", "honest")
EVIL_TAMPERED = _mod("example.com/evil", "v1.0.0", "tampered")


def _big(path: str, seed: int) -> ModuleVersion:
    """A module whose zip is far larger than what livezip holds back: it streams."""
    # Incompressible and over 1 MiB: the HTTP source writes its download in 1 MiB batches.
    noise = random.Random(seed).randbytes(3 << 20)
    return ModuleVersion(path, "v1.0.0", {"go.mod": f"module {path}\n".encode(), "n.txt": noise})


BIG = _big("example.com/big", 1)
BIG_EVIL = _big("example.com/bigevil", 2)
BIG_EVIL_TAMPERED = _big("example.com/bigevil", 3)
PRIVATE = [
    _mod("example.com/private/m", "v1.0.0", "p1"),
    _mod("example.com/private/n", "v1.0.0", "p2"),
]
#: Enough records that the go command reads full tiles, partial tiles and a level-1 tile.
FILLER = [(f"example.org/f{i}", "v1.0.0") for i in range(300)]


def gosum_lines(mv: ModuleVersion, tmp: Path) -> str:
    z = tmp / "m.zip"
    z.write_bytes(mv.zip_bytes())
    return (
        f"{mv.path} {mv.version} {hash_zip(z)}\n"
        f"{mv.path} {mv.version}/go.mod {gomod_hash(mv.gomod)}\n"
    )


def filler_lines(forked: bool) -> str:
    out = []
    for i, (path, version) in enumerate(FILLER):
        h = gomod_hash(f"{path} {'forked' if forked and i == 7 else ''}".encode())
        out.append(f"{path} {version} {h}\n{path} {version}/go.mod {h}\n")
    return "".join(out)


class SlowUpstream(LoopbackHTTP):
    """Serves a GOPROXY tree over HTTP, zips slowly (256 KiB every 40 ms)."""

    def __init__(self, root: Path) -> None:
        class Handler(QuietHandler):
            def do_GET(self) -> None:
                file = root / self.path.lstrip("/")
                if ".." in self.path or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                step = 256 << 10 if self.path.endswith(".zip") else len(data)
                try:
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i : i + step])
                        self.wfile.flush()
                        time.sleep(0.04 if step < len(data) else 0)
                except OSError:
                    pass

        super().__init__(Handler)


@dataclass
class SumDB:
    proc: subprocess.Popen[str]
    url: str


def start_sumdb(records: Path) -> SumDB:
    binary = subprocess.run(
        ["bash", str(REPO / "tools" / "build-sumdbtest.sh")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [binary, "-key", SKEY, "-gosum", str(records)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://"), url
    return SumDB(proc, url)


@dataclass
class World:
    tmp: Path
    upstream: Path
    honest: SumDB
    forked: SumDB
    servers: list[Server]

    def proxy(self, storage: Path, env: dict[str, str]) -> Server:
        srv = start_server(storage, self.upstream.as_uri(), env=env)
        self.servers.append(srv)
        return srv


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("sumdb")
    upstream = tmp / "upstream"
    for mv in [A, B, EVIL_TAMPERED, BIG, BIG_EVIL_TAMPERED, *PRIVATE]:
        write_module(upstream, mv)
    honest = tmp / "honest.txt"
    honest.write_text(
        gosum_lines(A, tmp)
        + gosum_lines(EVIL, tmp)
        + filler_lines(False)
        + gosum_lines(B, tmp)
        + gosum_lines(BIG, tmp)
        + gosum_lines(BIG_EVIL, tmp)
    )
    forked = tmp / "forked.txt"
    forked.write_text(
        gosum_lines(A, tmp) + gosum_lines(EVIL, tmp) + filler_lines(True) + gosum_lines(B, tmp)
    )
    dbs = [start_sumdb(honest), start_sumdb(forked)]
    servers: list[Server] = []
    try:
        yield World(tmp, upstream, dbs[0], dbs[1], servers)
    finally:
        for s in servers:
            s.kill()
        for db in dbs:
            db.proc.kill()
            db.proc.wait(10)
            if db.proc.stdout is not None:
                db.proc.stdout.close()


def through(go_env: dict[str, str], proxy_url: str, gosumdb: str) -> dict[str, str]:
    """The isolated go environment of tests/conftest.py, pointed at a proxy and a database."""
    return {**go_env, "GOPROXY": proxy_url, "GOSUMDB": gosumdb, "GONOPROXY": ""}


@pytest.fixture(scope="module")
def verifying_proxy(world: World) -> Server:
    return world.proxy(world.tmp / "data1", {"GOSUMDB": f"{VKEY} {world.honest.url}"})


#: Stream every cold zip past the held-back tail (the default waits for 32 MiB first).
STREAM_ALL = {"GOMODPROXY_STREAM_COLD_ZIPS_AFTER": "0"}


@pytest.fixture(scope="module")
def streaming_proxy(world: World) -> Server:
    return world.proxy(
        world.tmp / "data-stream", {"GOSUMDB": f"{VKEY} {world.honest.url}", **STREAM_ALL}
    )


class TestProxiedDatabase:
    def test_go_mod_download_verifies_through_the_proxy(
        self, world: World, verifying_proxy: Server, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """The go command downloads through gomodproxy with GOSUMDB=name+key, reaching the
        checksum database through the proxy; the proxy verified the module too."""
        env = through(go_env, verifying_proxy.url, VKEY)
        out = go(env, "mod", "download", "-json", f"{A.path}@{A.version}", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert (tmp_path / "gopath" / "pkg" / "sumdb" / DB / "latest").exists()
        tree = (tmp_path / "gopath" / "pkg" / "sumdb" / DB / "latest").read_text()
        assert tree.startswith(f"go.sum database tree\n{len(FILLER) + 5}\n")  # 5 modules
        status, _, body = verifying_proxy.get(f"/sumdb/{DB}/latest")
        assert (status, body.decode()) == (200, tree)
        data = world.tmp
        assert (data / "data1" / "_meta" / "sumdb" / DB / "latest").read_text() == tree
        assert (data / "data1" / "sumdb" / DB / "tile" / "8" / "0" / "000").stat().st_size == 8192

    def test_mod_verify_checks_the_store_against_the_database(
        self, world: World, verifying_proxy: Server
    ) -> None:
        """``gomodproxy mod verify`` re-hashes what the proxy stored and finds it in the
        database; a go.mod changed on disk afterwards is reported (exit 3)."""
        assert verifying_proxy.get(f"/{A.path}/@v/{A.version}.zip")[0] == 200
        env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
        env.update(GOENV="off", GOPROXY="off", GOSUMDB=f"{VKEY} {world.honest.url}")
        cmd = [sys.executable, "-m", "gomodproxy", "mod", "verify", "--storage"]
        out = subprocess.run(
            [*cmd, str(world.tmp / "data1")], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "stored artifacts verified" in out.stdout
        copy = world.tmp / "data1-changed"
        shutil.copytree(world.tmp / "data1", copy)
        (copy / "example.com" / "a" / "@v" / "v1.0.0.mod").write_text("module example.com/a\n")
        out = subprocess.run([*cmd, str(copy)], env=env, capture_output=True, text=True)
        assert out.returncode == 3, out.stdout + out.stderr
        assert "verifying go.mod: checksum mismatch" in out.stdout

    def test_unconfigured_database_is_not_proxied(self, verifying_proxy: Server) -> None:
        """Other database names answer 404, so the go command goes direct (no open relay)."""
        assert verifying_proxy.get("/sumdb/other.example/supported")[0] == 404
        assert verifying_proxy.get(f"/sumdb/{DB}/supported")[0] == 200

    def test_tampered_zip_is_refused_before_go_sees_it(
        self, world: World, verifying_proxy: Server, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """An upstream zip that does not match the checksum database is refused with both
        hashes, logged, counted and not stored; the go command fails with our text."""
        status, _, body = verifying_proxy.get(f"/{EVIL.path}/@v/{EVIL.version}.zip")
        assert status == 403
        text = body.decode()
        assert "checksum mismatch" in text
        assert re.search(r"downloaded: h1:\S+ .*sum.test.example: h1:\S+", text)
        data = world.tmp
        assert not (data / "data1" / "example.com" / "evil" / "@v" / "v1.0.0.zip").exists()
        env = through(go_env, verifying_proxy.url, VKEY)
        out = go(env, "mod", "download", f"{EVIL.path}@{EVIL.version}", cwd=tmp_path)
        assert out.returncode != 0
        assert "403 Forbidden" in out.stderr
        assert "checksum mismatch" in out.stderr
        assert not list((tmp_path / "gopath" / "pkg" / "mod").glob("example.com/evil@*"))
        metrics = verifying_proxy.get("/metrics")[2].decode()
        assert re.search(r'gomodproxy_verification_failures_total\{[^}]*reason="mismatch"', metrics)
        assert "refused example.com/evil@v1.0.0 (zip): checksum mismatch" in (
            verifying_proxy.log_path.read_text()
        )

    def test_large_zips_stream_and_a_tampered_one_never_completes(
        self, world: World, streaming_proxy: Server, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """A cold zip larger than the held-back tail streams to the go command; a tampered
        one is cut off before its tail, so the go command never gets a complete zip. The
        refusal is remembered: the next request is a 403 naming both hashes, at once."""
        env = through(go_env, streaming_proxy.url, VKEY)
        out = go(env, "mod", "download", "-json", f"{BIG.path}@{BIG.version}", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        out = go(env, "mod", "download", f"{BIG_EVIL.path}@{BIG_EVIL.version}", cwd=tmp_path)
        assert out.returncode != 0
        assert not list((tmp_path / "gopath" / "pkg" / "mod").glob("example.com/bigevil@*"))
        data = world.tmp / "data-stream"
        assert not (data / "example.com" / "bigevil" / "@v" / "v1.0.0.zip").exists()
        log = streaming_proxy.log_path.read_text()
        assert "refused example.com/bigevil@v1.0.0 (zip): checksum mismatch" in log
        out = go(env, "mod", "download", f"{BIG_EVIL.path}@{BIG_EVIL.version}", cwd=tmp_path)
        assert out.returncode != 0
        assert "403 Forbidden" in out.stderr
        assert re.search(r"server response: SECURITY ERROR: .*checksum mismatch", out.stderr)
        assert "refused since" in out.stderr
        assert streaming_proxy.log_path.read_text().count("refused example.com/bigevil") == 1

    def test_tampered_zip_first_client_reads_why(
        self, world: World, verifying_proxy: Server, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """A zip under stream_cold_zips_after (32 MiB by default) is verified before its first
        byte: the very first go command gets the 403 and prints our reason with both hashes,
        not "unexpected EOF"; later ones get it from the refusal memory, never re-fetched."""
        env = through(go_env, verifying_proxy.url, VKEY)
        for _ in range(2):
            out = go(env, "mod", "download", f"{BIG_EVIL.path}@{BIG_EVIL.version}", cwd=tmp_path)
            assert out.returncode != 0
            assert "403 Forbidden" in out.stderr, out.stderr
            assert "unexpected EOF" not in out.stderr
            assert re.search(r"checksum mismatch downloaded: h1:\S+ \S+: h1:\S+", out.stderr)
        assert "refused since" in out.stderr
        log = verifying_proxy.log_path.read_text()
        assert log.count("refused example.com/bigevil@v1.0.0 (zip): checksum mismatch") == 1

    def test_slow_cold_zip_streams_and_a_tampered_one_is_cut_off(
        self, world: World, tmp_path: Path
    ) -> None:
        """From a slow upstream the first bytes reach the client while the zip is still
        downloading; a tampered zip's response is aborted before its tail."""
        with SlowUpstream(world.upstream) as upstream:
            srv = start_server(
                tmp_path / "data",
                upstream.url,
                env={"GOSUMDB": f"{VKEY} {world.honest.url}", **STREAM_ALL},
            )
            world.servers.append(srv)
            host, port = srv.url.removeprefix("http://").split(":")
            for mv, complete in [(BIG, True), (BIG_EVIL, False)]:
                conn = http.client.HTTPConnection(host, int(port), timeout=20)
                conn.request("GET", f"/{mv.path}/@v/{mv.version}.zip")
                resp = conn.getresponse()
                assert resp.status == 200
                assert resp.getheader("content-length") is None  # streamed, chunked
                start = time.monotonic()
                first = resp.read1(1024)
                first_byte = time.monotonic() - start
                body = first
                try:
                    while chunk := resp.read1(1 << 16):
                        body += chunk
                    ended = True
                except (http.client.IncompleteRead, ConnectionError):
                    ended = False
                total = time.monotonic() - start
                conn.close()
                want = (world.upstream / escape(mv.path) / "@v" / "v1.0.0.zip").read_bytes()
                if complete:
                    assert ended
                    assert body == want
                    assert first_byte < total / 2  # bytes flowed while downloading
                else:
                    assert not ended
                    assert 0 < len(body) < len(want)  # never the whole tampered zip
            assert not (
                tmp_path / "data" / "example.com" / "bigevil" / "@v" / "v1.0.0.zip"
            ).exists()

    def test_fork_is_detected_and_quarantines_the_database(
        self, world: World, verifying_proxy: Server
    ) -> None:
        """A database that later shows a tree inconsistent with the one the proxy verified is
        caught (SECURITY ERROR in the log); the proxy then stops using it (502)."""
        assert verifying_proxy.get(f"/{A.path}/@v/{A.version}.mod")[0] == 200
        tmp = world.tmp
        shutil.copytree(tmp / "data1", tmp / "data2")
        p2 = world.proxy(tmp / "data2", {"GOSUMDB": f"{VKEY} {world.forked.url}"})
        status, _, body = p2.get(f"/{B.path}/@v/{B.version}.mod")
        assert status == 403, body
        assert b"misbehaving server" in body
        assert (
            (tmp / "data2" / "_meta" / "sumdb" / DB / "fork")
            .read_text()
            .startswith("SECURITY ERROR\ngo.sum database server misbehavior detected!")
        )
        assert "fork detected" in p2.log_path.read_text()
        status, _, body = p2.get(f"/{B.path}/@v/{B.version}.zip")
        assert status == 502
        assert b"quarantined" in body


class TestPrivateDatabase:
    def test_private_database_is_accepted_by_go(
        self, world: World, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """sumdb keygen, then the proxy serves a private database the go command verifies
        against; the log survives a restart and keeps growing consistently."""
        tmp = world.tmp
        name = "corp.example/sumdb"
        keyfile = tmp / "private.key"
        gen = subprocess.run(
            [sys.executable, "-m", "gomodproxy", "sumdb", "keygen", name, "--out", str(keyfile)],
            capture_output=True,
            text=True,
            check=True,
        )
        vkey = re.search(r"verifier key: (\S+)", gen.stdout)
        assert vkey is not None
        env = {
            "GOMODPROXY_SUMDB_PRIVATE_KEY": str(keyfile),
            "GOMODPROXY_SUMDB_PRIVATE_PATTERNS": "example.com/private",
        }
        p3 = world.proxy(tmp / "data3", env)
        genv = through(go_env, p3.url, vkey.group(1))
        m, n = PRIVATE
        out = go(genv, "mod", "download", "-json", f"{m.path}@{m.version}", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        latest = tmp_path / "gopath" / "pkg" / "sumdb" / name / "latest"
        assert latest.read_text().startswith("go.sum database tree\n1\n")
        p3.stop()
        p4 = world.proxy(tmp / "data3", env)
        genv["GOPROXY"] = p4.url
        out = go(genv, "mod", "download", "-json", f"{n.path}@{n.version}", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert latest.read_text().startswith("go.sum database tree\n2\n")
        assert p4.get(f"/sumdb/{name}/lookup/example.com/public@v1.0.0")[0] == 404
