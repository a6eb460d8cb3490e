"""Mirror runs and store lifecycle end to end, over a counting fixture upstream on loopback.

- a mirror killed half-way and run again fetches nothing it had already stored;
- ``POST /admin/mirror`` runs the same mirror inside the server;
- ``gc`` removes what no rule keeps while the real go command downloads through the proxy
  the whole time: every download succeeds with the right hash, pinned versions stay;
- the terminal progress display, read back from a tmux pane.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.localfs.zipfiles import hash_zip
from tests.e2e.fixtures import (
    REPO,
    ModuleVersion,
    UpstreamServer,
    go,
    http_get,
    server_env,
    start_server,
    write_module,
)

pytestmark = [pytest.mark.e2e]

TOKEN = "mirror-admin-token-0123"
MODULES = [
    ModuleVersion(
        f"example.com/m{i}",
        version,
        {
            "go.mod": f"module example.com/m{i}\n\ngo 1.20\n".encode(),
            "m.go": f'package m{i}\n\nconst V = "{version}"\n'.encode(),
        },
    )
    for i in range(12)
    for version in ("v1.0.0", "v1.1.0")
]


def gosum_of(versions: list[ModuleVersion], tmp: Path) -> str:
    out = []
    for mv in versions:
        z = tmp / "h.zip"
        z.write_bytes(mv.zip_bytes())
        out.append(f"{mv.path} {mv.version} {hash_zip(z)}\n")
        out.append(f"{mv.path} {mv.version}/go.mod {gomod_hash(mv.gomod)}\n")
    return "".join(out)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "gomodproxy", *args]


def run_cli(argv: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (a :func:`cli` command line) from the repository, output captured as text."""
    return subprocess.run(
        argv, capture_output=True, text=True, env=server_env(), cwd=REPO, timeout=timeout
    )


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamServer]:
    root = tmp_path_factory.mktemp("lifecycle-upstream")
    for mv in MODULES:
        write_module(root, mv)
    with UpstreamServer(root) as srv:
        yield srv


def artifacts(mv: ModuleVersion) -> list[str]:
    return [f"/{mv.path}/@v/{mv.version}.{ext}" for ext in ("info", "mod", "zip")]


class TestResumedMirror:
    def test_killed_half_way_then_restarted_fetches_nothing_twice(
        self, upstream: UpstreamServer, tmp_path: Path
    ) -> None:
        """SIGKILL after some versions are done; the second run fetches only what the first
        had not stored (at most the versions in flight again) and completes the set."""
        gosum = tmp_path / "go.sum"
        gosum.write_text(gosum_of(MODULES, tmp_path))
        store = tmp_path / "store"
        args = cli("mirror", "--json", "-j", "2", str(gosum), "--storage", str(store))
        args += ["--upstream", upstream.url]
        upstream.hits.clear()
        upstream.delay = 0.05
        try:
            first = subprocess.Popen(
                args, stdout=subprocess.PIPE, env=server_env(), text=True, cwd=REPO
            )
            assert first.stdout is not None
            done_first: list[str] = []
            for line in first.stdout:
                event = json.loads(line)
                if event.get("Event") == "done":
                    done_first.append(f"{event['Path']}@{event['Version']}")
                if len(done_first) == 6:
                    first.send_signal(signal.SIGKILL)
                    break
            first.wait(30)
            first.stdout.close()
            hits_first = dict(upstream.hits)
            second = run_cli(args, timeout=300)
        finally:
            upstream.delay = 0.0
        assert second.returncode == 0, second.stdout + second.stderr
        summary = json.loads(second.stdout.splitlines()[-1])
        assert summary["Done"] == len(MODULES)
        assert summary["AlreadyStored"] >= len(done_first)
        for mv in MODULES:
            for path in artifacts(mv):
                total = upstream.hits[path]
                if f"{mv.path}@{mv.version}" in done_first:
                    assert total == 1, (path, total)  # stored by the first run: not again
                else:
                    assert total in (1, 2), (path, total)
        refetched = {p for p, n in upstream.hits.items() if n > hits_first.get(p, 0)}
        in_flight = {p for p, n in upstream.hits.items() if n == 2}
        assert len({p.rsplit(".", 1)[0] for p in in_flight}) <= 2  # -j 2
        assert len(refetched) < len(MODULES) * 3  # the second run did not start over
        third = run_cli(args)
        assert json.loads(third.stdout.splitlines()[-1])["Fetched"] == 0  # idempotent


class TestAdminMirror:
    def test_post_admin_mirror_runs_in_the_server(
        self, upstream: UpstreamServer, tmp_path: Path
    ) -> None:
        """The same mirror behind the admin token: 401 without it, the summary with it."""
        token = tmp_path / "token"
        token.write_text(TOKEN + "\n")
        srv = start_server(
            tmp_path / "store", upstream.url, args=["--set", f"admin_token_file={token}"]
        )
        try:
            body = json.dumps({"modules": ["example.com/m3@latest", "example.com/m4@v1.0.0"]})
            url = srv.url + "/admin/mirror"
            assert http_get(url, method="POST")[0] == 401
            status, _, answer = _post(url, body.encode(), TOKEN)
            assert status == 200, answer
            report = json.loads(answer)
            assert report["Failures"] == []
            assert report["Done"] == 4  # two go.mod walks, two zips
            assert (tmp_path / "store" / "example.com" / "m3" / "@v" / "v1.1.0.zip").is_file()
            status, _, answer = _post(url, b'{"modules": ["example.com/absent@v1.0.0"]}', TOKEN)
            assert status == 502
            assert json.loads(answer)["Failures"][0]["Path"] == "example.com/absent"
            status, _, answer = _post(url, b"[1]", TOKEN)
            assert status == 400
        finally:
            srv.stop()


def _post(url: str, body: bytes, token: str) -> tuple[int, dict[str, str], bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.mark.needs_go
class TestGcUnderLoad:
    def test_gc_while_the_go_command_downloads(
        self, upstream: UpstreamServer, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """Pinned versions stay; everything else goes while go downloads every version in
        a loop; each download succeeds with the fixture's hash (a removed version is simply
        fetched again); no stored zip is left without its hash."""
        store = tmp_path / "store"
        srv = start_server(store, upstream.url)
        pinned = [mv for mv in MODULES if mv.version == "v1.1.0"]
        want = {}
        for mv in MODULES:
            z = tmp_path / "w.zip"
            z.write_bytes(mv.zip_bytes())
            want[f"{mv.path}@{mv.version}"] = hash_zip(z)
        (tmp_path / "pinned.sum").write_text(gosum_of(pinned, tmp_path))
        targets = [f"{mv.path}@{mv.version}" for mv in MODULES]
        errors: list[str] = []
        rounds = [0]
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set() or rounds[0] < 2:
                cache = tmp_path / f"cache{rounds[0]}"
                env = {**go_env, "GOPROXY": srv.url, "GOMODCACHE": str(cache)}
                out = go(env, "mod", "download", "-json", *targets, cwd=tmp_path)
                if out.returncode != 0:
                    errors.append(out.stdout + out.stderr)
                for chunk in out.stdout.replace("}\n{", "}\x00{").split("\x00"):
                    if chunk.strip():
                        obj = json.loads(chunk)
                        if obj.get("Sum") != want[f"{obj['Path']}@{obj['Version']}"]:
                            errors.append(f"wrong or missing hash: {obj}")
                shutil.rmtree(cache, ignore_errors=True)
                rounds[0] += 1

        try:
            warm = go({**go_env, "GOPROXY": srv.url}, "mod", "download", *targets, cwd=tmp_path)
            assert warm.returncode == 0, warm.stderr
            worker = threading.Thread(target=load)
            worker.start()
            gc_runs = []
            for _ in range(3):
                gc_runs.append(
                    run_cli(
                        cli(
                            "gc",
                            "--json",
                            "--keep-gosum",
                            str(tmp_path / "pinned.sum"),
                            "--storage",
                            str(store),
                        ),
                        timeout=120,
                    )
                )
            stop.set()
            worker.join(600)
        finally:
            stop.set()
            srv.stop()
        assert errors == []
        assert rounds[0] >= 2
        for run in gc_runs:
            assert run.returncode == 0, run.stdout + run.stderr
        first = json.loads(gc_runs[0].stdout)
        removed = {f"{r['Path']}@{r['Version']}" for r in first["Remove"]}
        assert removed == {f"{mv.path}@{mv.version}" for mv in MODULES if mv not in pinned}
        assert first["FreedBytes"] > 0
        for mv in pinned:
            for ext in ("info", "mod", "zip", "ziphash"):
                assert (store / mv.path / "@v" / f"{mv.version}.{ext}").is_file()
        for z in store.rglob("*.zip"):
            assert z.with_name(z.name + "hash").is_file(), z
        dry = run_cli(cli("gc", "--dry-run", "--keep-newest", "1", "--storage", str(store)))
        assert dry.returncode == 0, dry.stderr
        assert "gc: would remove" in dry.stdout
        usage = run_cli(cli("storage", "usage", "--json", "--storage", str(store)))
        total = json.loads(usage.stdout)["Total"]
        assert total["Versions"] >= len(pinned)
        on_disk = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
        assert 0 < total["Bytes"] <= on_disk


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
class TestProgressDisplay:
    def test_rich_progress_in_a_terminal(self, upstream: UpstreamServer, tmp_path: Path) -> None:
        """On a terminal, mirror draws a bar with modules done/total, bytes, rate and ETA,
        and ends with the summary; read back from a tmux pane."""
        gosum = tmp_path / "go.sum"
        gosum.write_text(gosum_of(MODULES, tmp_path))
        session = f"gmp-mirror-{os.getpid()}"
        env = server_env()
        cmd = " ".join(
            [
                *cli("mirror", str(gosum), "--storage", str(tmp_path / "store")),
                "--upstream",
                upstream.url,
                ";",
                "echo",
                "MIRROR-EXIT=$?",
                ";",
                "sleep",
                "60",
            ]
        )
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "20", cmd],
            check=True,
            env={**env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
        )
        try:
            screen = ""
            deadline = time.monotonic() + 120
            while "MIRROR-EXIT=" not in screen and time.monotonic() < deadline:
                time.sleep(0.2)
                screen = subprocess.run(
                    ["tmux", "capture-pane", "-p", "-t", session],
                    capture_output=True,
                    text=True,
                ).stdout
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        assert "MIRROR-EXIT=0" in screen, screen
        bar = next(line for line in screen.splitlines() if line.startswith("mirror "))
        assert f"{len(MODULES)}/{len(MODULES)} modules" in bar
        assert "━" in bar
        assert "KiB" in bar
        assert "/s" in bar
        assert "ETA" in bar
        assert f"mirrored {len(MODULES)} module versions" in screen
