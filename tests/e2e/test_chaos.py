"""Chaos: go clients against random replicas while a replica is killed mid-fetch, Redis is
stopped and restarted, and the store's server (a docker-registry, or MinIO for S3) is stopped
and restarted.

Afterwards every go command either succeeded with the fixture's hashes or failed while the
replica it was pointed at was down (its only path), and nothing stored is corrupt:
``gomodproxy mod verify`` over the store is clean and every stored file equals the fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gomodproxy.storage import open_store
from tests.e2e.fixtures import (
    ModuleVersion,
    Server,
    UpstreamServer,
    build_tree,
    escape,
    server_env,
    start_server,
)
from tests.e2e.servers import (
    MinioServer,
    RedisServer,
    RegistryServer,
    minio_binary,
    need,
    running,
)
from tests.e2e.test_scaleout import expected_sums, go_download

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go, pytest.mark.slow]

#: Versions released to the clients in waves, so cold fetches happen during every outage.
WAVES = [
    [
        ModuleVersion(
            f"example.com/Chaos{w}", f"v1.{i}.0", {"c.go": f"package c // {w}.{i}\n".encode()}
        )
        for i in range(3)
    ]
    for w in range(4)
]
WAVES[0].append(
    ModuleVersion(
        "example.com/chaos/big",
        "v2.0.0+incompatible",
        {"b.go": b"package big\n//" + b"y" * 2_000_000},
    )
)
MODULES = [mv for wave in WAVES for mv in wave]


@dataclass
class Op:
    replica: int
    target: str
    start: float
    end: float
    ok: bool
    sums: tuple[object, object]
    stderr: str


class Cluster:
    """Three replicas whose URLs change when one is restarted; down windows recorded."""

    def __init__(self, tmp: Path, storage: str, redis_url: str, upstream: str) -> None:
        self.tmp, self.storage, self.redis_url, self.upstream = tmp, storage, redis_url, upstream
        self.servers = [self._start(i) for i in range(3)]
        self.down: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}

    def _start(self, i: int) -> Server:
        return start_server(
            self.storage,
            self.upstream,
            args=["--redis", self.redis_url, "--set", f"temp_dir={self.tmp / f'r{i}'}"],
            log_path=self.tmp / f"replica-{i}-{secrets.token_hex(2)}.log",
            env={"TMPDIR": str(self.tmp)},  # spools of killed replicas stay in the test's dir
        )

    def kill_and_restart(self, i: int) -> None:
        start = time.monotonic()
        self.servers[i].kill()
        time.sleep(0.5)
        self.servers[i] = self._start(i)
        self.down[i].append((start, time.monotonic()))

    def was_down(self, i: int, start: float, end: float) -> bool:
        return any(a <= end and start <= b for a, b in self.down[i])

    def close(self) -> None:
        for s in self.servers:
            s.kill()


def _ready_within(server: Server, seconds: float) -> tuple[int, dict[str, str], bytes]:
    """The first ``/readyz`` answer that says plain ready, or the last one at the deadline."""
    deadline = time.monotonic() + seconds
    answer = server.get("/readyz")
    while answer[2] != b"ready\n" and time.monotonic() < deadline:
        time.sleep(0.25)
        answer = server.get("/readyz")
    return answer


@pytest.mark.parametrize("kind", ["oci", "s3"])
def test_chaos(tmp_path: Path, go_env: dict[str, str], kind: str) -> None:
    """Replica kill -9 mid-fetch, Redis and store restarts: no corrupt artifact, and
    every go command either succeeded with the right hashes or failed on a dead replica."""
    need("redis-server")
    expected = {f"{mv.path}@{mv.version}": expected_sums(tmp_path, mv) for mv in MODULES}
    root = build_tree(tmp_path / "upstream", MODULES)
    (tmp_path / "store").mkdir()
    (tmp_path / "redis").mkdir()
    registry: RegistryServer | MinioServer
    if kind == "oci":
        need("docker-registry")
        registry = RegistryServer(tmp_path / "store")
        storage = registry.store_url("chaos")
    else:
        registry = MinioServer(tmp_path / "store", minio_binary())
        storage = registry.store_url("chaos", "proxy")
    redis = RedisServer(tmp_path / "redis")
    with running(registry), running(redis), UpstreamServer(root) as up:
        if isinstance(registry, MinioServer):
            registry.make_bucket("chaos")
        up.delay = 0.3  # every upstream request is slow: fetches overlap the chaos
        cluster = Cluster(tmp_path, storage, f"{redis.url}?lease=2", up.url)
        ops: list[Op] = []
        stop = threading.Event()
        rng = random.Random(7)
        released = list(WAVES[0])
        readiness: list[tuple[int, dict[str, str], bytes]] = []
        metrics: list[bytes] = []

        def release(wave: int) -> None:
            released.extend(WAVES[wave])

        def client() -> None:
            while not stop.is_set():
                i = rng.randrange(3)
                # Half the time one of the newest versions: likely not cached yet.
                mv = rng.choice(released[-3:] if rng.random() < 0.5 else released)
                target = f"{mv.path}@{mv.version}"
                start = time.monotonic()
                try:
                    out = go_download(go_env, tmp_path, cluster.servers[i].url, target)
                except subprocess.TimeoutExpired:  # recorded as a failure, not a lost thread
                    out = {"_returncode": -1, "_stderr": "go command timed out"}
                ops.append(
                    Op(i, target, start, time.monotonic(), out["_returncode"] == 0,
                       (out.get("Sum"), out.get("GoModSum")), str(out["_stderr"])[-300:])
                )  # fmt: skip

        try:
            clients = [threading.Thread(target=client) for _ in range(2)]
            for t in clients:
                t.start()
            time.sleep(1.0)
            # kill -9 replica 0 while it fetches a zip nobody asked for yet.
            mv = WAVES[0][-1]
            zip_path = f"/{escape(mv.path)}/@v/{escape(mv.version)}.zip"
            before = up.count(zip_path)
            victim = cluster.servers[0]

            def doomed_request() -> None:
                with contextlib.suppress(OSError):
                    victim.get(zip_path)

            threading.Thread(target=doomed_request, daemon=True).start()
            deadline = time.monotonic() + 5
            while up.count(zip_path) == before and time.monotonic() < deadline:
                time.sleep(0.01)
            cluster.kill_and_restart(0)
            release(1)
            time.sleep(1.0)
            redis.stop()
            release(2)
            time.sleep(1.0)
            readiness.append(cluster.servers[1].get("/readyz"))
            metrics.append(cluster.servers[1].get("/metrics")[2])
            time.sleep(1.0)
            redis.start()
            time.sleep(1.5)
            registry.stop()
            release(3)
            time.sleep(1.0)
            readiness.append(cluster.servers[1].get("/readyz"))
            time.sleep(1.0)
            registry.start()
            # Each worker notices the store is back by its own probe (every retry_after
            # seconds, slower under load): ask until every replica says ready, or 30 s passed.
            readiness.extend(_ready_within(s, 30.0) for s in cluster.servers)
            metrics.append(cluster.servers[1].get("/metrics")[2])
        finally:
            stop.set()
            for t in clients:
                t.join(timeout=150)
            cluster.close()

        assert len(ops) >= 12, "the clients should have run throughout"
        for op in ops:
            if op.ok:
                assert op.sums == expected[op.target], op
            else:
                assert cluster.was_down(op.replica, op.start, op.end), op
        assert sum(op.ok for op in ops) >= len(ops) // 2
        # /readyz stayed ready, said what was degraded, and is clean again at the end.
        assert [status for status, _, _ in readiness] == [200] * 5
        assert b"degraded: redis unavailable" in readiness[0][2]
        assert b"degraded: storage unavailable" in readiness[1][2]
        assert [body for _, _, body in readiness[2:]] == [b"ready\n"] * 3
        assert b'gomodproxy_degraded{component="redis"} 1.0' in metrics[0]
        assert b'gomodproxy_degraded{component="redis"} 0.0' in metrics[1]
        assert b'gomodproxy_degraded{component="storage"} 0.0' in metrics[1]
        # Each outage was noticed, survived and recovered from (replica logs).
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("replica-*.log"))
        for line in [
            "degraded to in-process cache and locks",
            "shared cache and locks resumed",
            "served without being stored",
            f"{kind} storage is back",
        ]:
            assert line in logs

        # Nothing stored is corrupt: mod verify is clean and each file equals the fixture.
        verify = subprocess.run(
            [sys.executable, "-m", "gomodproxy", "mod", "verify", "--storage", storage],
            env=server_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        asyncio.run(check_stored(storage))


async def check_stored(storage: str) -> None:
    store = open_store(storage, degrade=False)
    by_key = {}
    for mv in MODULES:
        base = f"{escape(mv.path)}/@v/{escape(mv.version)}"
        by_key.update({f"{base}.mod": mv.gomod, f"{base}.zip": mv.zip_bytes()})
    try:
        keys = [k async for k in store.list()]
        assert any(k.endswith(".zip") for k in keys)
        for key in keys:
            if key in by_key:
                assert await store.get(key) == by_key[key], key
    finally:
        await store.aclose()
