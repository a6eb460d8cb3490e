"""Upstream faults, chains and crashes, against ``gomodproxy serve`` in a subprocess.

For each artifact (list, info, mod, zip, latest) and each fault (404, 410, 500, timeout,
garbage, truncated body) the server must answer 404 with a text reason (``no-store`` when it
was the upstream's fault, so a client's ``,direct`` fallback still works), store nothing,
and serve the artifact once the upstream is healthy again.
"""

from __future__ import annotations

import io
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fixtures import (
    ModuleVersion,
    Server,
    UpstreamServer,
    escape,
    start_server,
    write_module,
)

pytestmark = pytest.mark.e2e

ARTIFACTS = {
    "list": "/@v/list",
    "info": "/@v/v1.0.0.info",
    "mod": "/@v/v1.0.0.mod",
    "zip": "/@v/v1.0.0.zip",
    "latest": "/@latest",
}
FAULTS = ("404", "410", "500", "timeout", "garbage", "truncated")
UPSTREAM_TIMEOUT = 0.5


def module_for(fault: str, artifact: str) -> ModuleVersion:
    path = f"faults.test/{fault}/{artifact}"
    return ModuleVersion(path, "v1.0.0", {"x.go": b"package x\n"})


def garbage_for(artifact: str) -> bytes:
    if artifact == "zip":
        return b"PK\x03\x04 this is not a zip at all"
    if artifact == "mod":
        return b"<html><body>Sign in to continue</body></html>\n"
    return b"<html>\x00\xff garbage </html>\n"


def half_zip(mv: ModuleVersion) -> bytes:
    data = mv.zip_bytes()
    return data[: len(data) // 2]


class FaultTable:
    """Per-path faults for the upstream; ``healthy`` switches them all off."""

    def __init__(self) -> None:
        self.healthy = False
        self.table: dict[str, tuple[int, bytes, float]] = {}

    def __call__(self, path: str) -> tuple[int, bytes, float] | None:
        if self.healthy:
            return None
        return self.table.get(path)


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, UpstreamServer, FaultTable, Path]]:
    tree = tmp_path_factory.mktemp("tree")
    faults = FaultTable()
    for fault in FAULTS:
        for artifact, suffix in ARTIFACTS.items():
            mv = module_for(fault, artifact)
            write_module(tree, mv)
            (tree / escape(mv.path) / "@latest").write_bytes(mv.info_bytes())
            key = "/" + mv.path + suffix
            if fault in ("404", "410", "500"):
                faults.table[key] = (int(fault), b"upstream says no\n", 0.0)
            elif fault == "timeout":
                faults.table[key] = (200, b"", UPSTREAM_TIMEOUT * 6)
            elif fault == "garbage":
                faults.table[key] = (200, garbage_for(artifact), 0.0)
            elif artifact == "zip":
                # A zip cut in half, with a Content-Length that matches what is sent.
                faults.table[key] = (200, half_zip(mv), 0.0)
            else:
                faults.table[key] = (0, b'{"Version":"v1', 0.0)  # connection cut mid-body
    data = tmp_path_factory.mktemp("data")
    with UpstreamServer(tree) as upstream:
        upstream.faults.append(faults)
        server = start_server(
            data,
            upstream.url,
            args=["--set", f"upstream_timeout={UPSTREAM_TIMEOUT}", "--set", "list_ttl=0"],
        )
        yield server, upstream, faults, data
        server.stop()


class TestUpstreamFaults:
    @pytest.mark.parametrize("fault", FAULTS)
    def test_each_artifact_fails_cleanly_then_recovers(
        self, faulty: tuple[Server, UpstreamServer, FaultTable, Path], fault: str
    ) -> None:
        """404 + reason while the upstream misbehaves, nothing stored, 200 once it is healthy."""
        server, _upstream, faults, data = faulty
        faults.healthy = False
        for artifact, suffix in ARTIFACTS.items():
            path = module_for(fault, artifact).path
            status, headers, body = server.get("/" + path + suffix)
            assert status == 404, (fault, artifact, body)
            assert headers["content-type"].startswith("text/plain"), (fault, artifact)
            assert b"\n" not in body.rstrip(b"\n"), body
            assert body.isascii(), body
            if fault in ("404", "410"):
                assert headers["cache-control"].startswith("public"), (fault, artifact)
            else:
                assert headers["cache-control"] == "no-store", (fault, artifact)
                assert b"upstream error" in body, (fault, artifact, body)
            if artifact in ("info", "mod", "zip"):
                assert not (data / path / suffix.lstrip("/")).exists(), (fault, artifact)
        faults.healthy = True
        try:
            for artifact, suffix in ARTIFACTS.items():
                mv = module_for(fault, artifact)
                status, _, body = server.get("/" + mv.path + suffix)
                assert status == 200, (fault, artifact, body)
                if artifact == "zip":
                    assert body == mv.zip_bytes()
        finally:
            faults.healthy = False


@pytest.fixture(scope="module")
def two_upstreams(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[UpstreamServer, UpstreamServer]]:
    good_tree = tmp_path_factory.mktemp("good")
    write_module(good_tree, ModuleVersion("chain.test/m", "v1.0.0", {"m.go": b"package m\n"}))
    bad_tree = tmp_path_factory.mktemp("bad")
    with UpstreamServer(bad_tree) as bad, UpstreamServer(good_tree) as good:
        bad.faults.append(lambda p: (500, b"boom\n", 0.0) if "/gone/" not in p else None)
        yield bad, good


class TestChains:
    @pytest.mark.parametrize(
        ("separator", "expected"), [(",", 404), ("|", 200)], ids=["comma", "pipe"]
    )
    def test_500_falls_through_only_after_pipe(
        self,
        tmp_path: Path,
        two_upstreams: tuple[UpstreamServer, UpstreamServer],
        separator: str,
        expected: int,
    ) -> None:
        """After ',' a 500 stops the walk; after '|' the next proxy answers."""
        bad, good = two_upstreams
        server = start_server(tmp_path / "data", f"{bad.url}{separator}{good.url}")
        try:
            status, _, body = server.get("/chain.test/m/@v/v1.0.0.info")
            assert status == expected, body
            if expected == 404:
                assert b"status 500" in body
        finally:
            server.stop()

    def test_404_falls_through_after_comma_and_off_refuses(
        self, tmp_path: Path, two_upstreams: tuple[UpstreamServer, UpstreamServer]
    ) -> None:
        """A 404 from the first proxy falls through after ','; GOPROXY=off refuses everything."""
        _bad, good = two_upstreams
        empty = UpstreamServer(tmp_path / "empty")
        (tmp_path / "empty").mkdir()
        with empty:
            server = start_server(tmp_path / "data", f"{empty.url},{good.url}")
            try:
                status, _, body = server.get("/chain.test/m/@v/v1.0.0.mod")
                assert status == 200
                # The good upstream's go.mod, byte for byte (the empty one has nothing).
                assert body == (good.root / "chain.test/m/@v/v1.0.0.mod").read_bytes()
            finally:
                server.stop()
        server = start_server(tmp_path / "data2", "off")
        try:
            status, _, body = server.get("/chain.test/m/@v/list")
            assert status == 404
            assert b"GOPROXY=off" in body
        finally:
            server.stop()


class TestCrashes:
    def test_kill_during_zip_fetch_then_restart_serves_whole_zip(self, tmp_path: Path) -> None:
        """SIGKILL while a zip streams in: after a restart the zip is fetched again, whole."""
        mv = ModuleVersion("crash.test/m", "v1.0.0", {"big.txt": bytes(range(256)) * 8192})
        tree = tmp_path / "tree"
        write_module(tree, mv)
        zip_bytes = mv.zip_bytes()
        slow = {"on": True}

        def stall(path: str) -> tuple[int, bytes, float] | None:
            if slow["on"] and path.endswith(".zip"):
                return (0, zip_bytes[: len(zip_bytes) // 2], 5.0)
            return None

        data = tmp_path / "data"
        with UpstreamServer(tree) as upstream:
            upstream.faults.append(stall)
            server = start_server(data, upstream.url, workers=2)
            result: dict[str, object] = {}

            def fetch() -> None:
                try:
                    result["answer"] = server.get("/crash.test/m/@v/v1.0.0.zip")
                except OSError as exc:
                    result["error"] = exc

            t = threading.Thread(target=fetch)
            t.start()
            deadline = time.monotonic() + 10
            while upstream.count(".zip") == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            server.kill()
            t.join(10)
            assert "answer" not in result or result["answer"][0] != 200  # type: ignore[index]
            assert not (data / "crash.test/m/@v/v1.0.0.zip").exists()
            slow["on"] = False
            server = start_server(data, upstream.url)
            try:
                status, _, body = server.get("/crash.test/m/@v/v1.0.0.zip")
                assert status == 200
                assert body == zip_bytes
                with zipfile.ZipFile(io.BytesIO(body)) as zf:
                    assert zf.testzip() is None
                assert (data / "crash.test/m/@v/v1.0.0.ziphash").read_text().startswith("h1:")
            finally:
                server.stop()
            # The killed process's download directory was removed by the new one.
            assert [p.name for p in (data / ".gomodproxy" / "tmp").iterdir()] == []

    def test_graceful_shutdown_finishes_inflight_and_leaves_no_temp_files(
        self, tmp_path: Path
    ) -> None:
        """SIGTERM during a slow zip fetch: the request still succeeds, temp files are gone."""
        mv = ModuleVersion("stop.test/m", "v1.0.0", {"a.go": b"package m\n"})
        tree = tmp_path / "tree"
        write_module(tree, mv)
        data = tmp_path / "data"
        with UpstreamServer(tree) as upstream:
            upstream.delay = 1.0
            server = start_server(data, upstream.url)
            result: dict[str, tuple[int, dict[str, str], bytes]] = {}
            t = threading.Thread(
                target=lambda: result.setdefault("a", server.get("/stop.test/m/@v/v1.0.0.zip"))
            )
            t.start()
            deadline = time.monotonic() + 10
            while upstream.count(".zip") == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            # uvicorn re-raises the signal after its graceful shutdown.
            assert server.stop() in (0, -signal.SIGTERM)
            t.join(10)
        assert result["a"][0] == 200
        assert result["a"][2] == mv.zip_bytes()
        leftovers = list((data / ".gomodproxy" / "tmp").rglob("*"))
        assert leftovers == []


class TestStale:
    def test_list_and_latest_served_stale_when_upstream_fails_even_after_restart(
        self, tmp_path: Path
    ) -> None:
        """After the TTL, a failing upstream gets the previous answer served, also from storage
        after a restart (empty memory cache); a healthy one gets refreshed in the background."""
        mv = ModuleVersion("stale.test/m", "v1.0.0", {"a.go": b"package m\n"})
        tree = tmp_path / "tree"
        write_module(tree, mv)
        (tree / "stale.test/m/@latest").write_bytes(mv.info_bytes())
        down = {"on": False}
        data = tmp_path / "data"
        args = ["--set", "list_ttl=1"]
        with UpstreamServer(tree) as upstream:
            upstream.faults.append(lambda p: (503, b"down\n", 0.0) if down["on"] else None)
            server = start_server(data, upstream.url, args=args)
            try:
                fresh = [server.get("/stale.test/m" + s)[2] for s in ("/@v/list", "/@latest")]
                down["on"] = True
                time.sleep(1.2)
                for suffix, body in zip(("/@v/list", "/@latest"), fresh, strict=True):
                    status, headers, again = server.get("/stale.test/m" + suffix)
                    assert (status, again) == (200, body)
                    assert headers["cache-control"] == "public, max-age=1"
            finally:
                server.stop()
            server = start_server(data, upstream.url, args=args)
            try:
                status, _, body = server.get("/stale.test/m/@v/list")
                assert (status, body) == (200, b"v1.0.0\n")
                down["on"] = False
                (tree / "stale.test/m/@v/list").write_text("v1.0.0\nv1.1.0\n")
                time.sleep(1.2)
                server.get("/stale.test/m/@v/list")  # stale answer, refresh in the background
                deadline = time.monotonic() + 5
                while server.get("/stale.test/m/@v/list")[2] != b"v1.0.0\nv1.1.0\n":
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            finally:
                server.stop()
