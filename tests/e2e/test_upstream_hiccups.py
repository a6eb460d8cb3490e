"""Upstream hiccups absorbed: the real go command downloads a 200-module graph through
``gomodproxy serve`` whose upstream fails one request in ten (503) and cuts one in fifty off
mid-body, and succeeds, every module with the bytes the upstream holds.

The go command does not retry a failed download, so without retries one hiccup fails a CI
build. Which requests fail is decided by a hash of the path and how often it was asked, so
a run is reproducible whatever the order in which requests arrive.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from gomodproxy.localfs.zipfiles import hash_zip
from tests.e2e.fixtures import (
    ModuleVersion,
    UpstreamServer,
    build_tree,
    go,
    http_get,
    parse_json_stream,
    start_server,
)

pytestmark = pytest.mark.e2e

N = 200
FAIL = 0.10
CUT = 0.02


def graph() -> list[ModuleVersion]:
    """200 modules; each requires the next two (so the go command walks a graph), every
    tenth carries 200 KiB that does not compress (a zip long enough to be streamed while it
    is fetched, and cut off in the middle)."""
    rng = random.Random(16)
    mods = []
    for i in range(N):
        path = f"hiccup.test/m{i:03d}"
        reqs = "".join(f"require hiccup.test/m{j:03d} v1.0.0\n" for j in (i + 1, i + 2) if j < N)
        files = {
            "go.mod": f"module {path}\n\ngo 1.16\n\n{reqs}".encode(),
            "m.go": f"package m{i:03d}\n".encode() + b"// filler\n" * rng.randint(1, 400),
        }
        if i % 10 == 0:
            files["blob.bin"] = rng.randbytes(200 << 10)
        mods.append(ModuleVersion(path, "v1.0.0", files))
    return mods


class Hiccups:
    """503 for 10% of requests, a body cut off after half of it for 2%: by path and attempt."""

    def __init__(self, root: Path, seed: str) -> None:
        self.root = root
        self.seed = seed
        self.asked: Counter[str] = Counter()
        self.failed = Counter[str]()
        self._lock = threading.Lock()

    def __call__(self, path: str) -> tuple[int, bytes, float] | None:
        with self._lock:
            self.asked[path] += 1
            n = self.asked[path]
        digest = hashlib.sha256(f"{self.seed} {path} {n}".encode()).digest()
        roll = int.from_bytes(digest[:8], "big") / 2**64
        if roll < FAIL:
            self.failed["503"] += 1
            return 503, b"upstream hiccup\n", 0.0
        file = self.root / path.lstrip("/")
        if roll < FAIL + CUT and file.is_file():
            self.failed["cut"] += 1
            body = file.read_bytes()
            return 0, body[: len(body) // 2], 0.0  # declares more, sends half, closes
        return None


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ModuleVersion]]:
    mods = graph()
    return build_tree(tmp_path_factory.mktemp("hiccups") / "tree", mods), mods


def _retries(url: str) -> float:
    """The sum of ``gomodproxy_upstream_retries_total`` over its labels, from /metrics."""
    status, _, metrics = http_get(url + "/metrics")
    assert status == 200
    return sum(
        float(v)
        for v in re.findall(
            rb"^gomodproxy_upstream_retries_total\{[^}]*\} ([0-9.e+]+)$", metrics, re.M
        )
    )


@pytest.mark.parametrize("seed", ["one", "two"])
def test_go_downloads_a_graph_through_a_hiccuping_upstream(
    tree: tuple[Path, list[ModuleVersion]], tmp_path: Path, seed: str
) -> None:
    root, mods = tree
    hiccups = Hiccups(root, seed)
    with UpstreamServer(root) as upstream:
        upstream.faults.append(hiccups)
        # Two workers: retries made by either one must reach /metrics (read until they do).
        server = start_server(tmp_path / "data", upstream.url, workers=2)
        try:
            app = tmp_path / "app"
            app.mkdir()
            requires = "".join(f"\t{m.path} {m.version}\n" for m in mods)
            (app / "go.mod").write_text(
                f"module example.com/app\n\ngo 1.16\n\nrequire (\n{requires})\n"
            )
            env = {
                "PATH": os.environ["PATH"],
                "HOME": str(tmp_path),
                "GOPATH": str(tmp_path / "gopath"),
                "GOMODCACHE": str(tmp_path / "modcache"),
                "GOCACHE": str(tmp_path / "gocache"),
                "GOPROXY": server.url,
                "GOSUMDB": "off",
                "GOFLAGS": "-mod=mod",
                "GOTOOLCHAIN": "local",
                "GOENV": "off",
            }
            result = go(env, "mod", "download", "-json", "all", cwd=app, timeout=600)
            assert result.returncode == 0, result.stderr[-3000:]
            downloaded = {
                d["Path"]: d
                for d in parse_json_stream(result.stdout)
                if d["Path"] != "example.com/app"
            }
            assert sorted(downloaded) == sorted(m.path for m in mods)
            for m in mods:
                d = downloaded[m.path]
                assert "Error" not in d, d
                want = root / m.path / "@v" / "v1.0.0.zip"
                assert d["Sum"] == hash_zip(want), m.path
                assert Path(d["GoMod"]).read_bytes() == m.gomod
            # Workers publish their counters about once a second: read until every worker's
            # last retries are in the sum (or the deadline passes and the assertion says so).
            deadline = time.monotonic() + 30
            retries = _retries(server.url)
            while time.monotonic() < deadline and retries < sum(hiccups.failed.values()):
                time.sleep(0.2)
                retries = _retries(server.url)
        finally:
            server.stop()
    # The upstream really did hiccup, and the proxy asked again for each failed request.
    assert hiccups.failed["503"] > 0, hiccups.failed
    assert hiccups.failed["cut"] > 0, hiccups.failed
    assert retries >= sum(hiccups.failed.values())
