"""A remote store (OCI registry, S3 bucket) whose server goes down: reads of what this process
wrote come from its local copies, other reads miss, writes are kept locally and served, and
once the server is back what it lacks is stored there."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from gomodproxy.storage import MemoryStore, open_store
from gomodproxy.storage.degrading import DegradingStore
from tests.conftest import free_port
from tests.e2e.servers import MinioServer, RegistryServer, minio_binary, need, running

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("kind", ["oci", "s3"])
async def test_server_down_then_back(tmp_path: Path, kind: str) -> None:
    """Stopping the server degrades the store without errors; restarting heals it."""
    server: RegistryServer | MinioServer
    if kind == "oci":
        need("docker-registry")
        server = RegistryServer(tmp_path)
        url = server.store_url("degrade/t")
    else:
        server = MinioServer(tmp_path, minio_binary())
        url = server.store_url("degrade", "t")
    with running(server):
        if isinstance(server, MinioServer):
            server.make_bucket("degrade")
        store = open_store(url)
        assert isinstance(store, DegradingStore)
        store.retry_after = 0.2
        await store.put("example.com/m/@v/v1.0.0.info", b"{}")
        assert await store.get("example.com/m/@v/v1.0.0.info") == b"{}"

        server.stop(kill=True)
        assert await store.get("example.com/other/@v/v1.0.0.info") is None  # a miss, no error
        assert store.degraded
        assert await store.get("example.com/m/@v/v1.0.0.info") == b"{}"  # the local copy
        assert store.status()["degraded"] is True
        zip_src = tmp_path / "fetched.zip"
        zip_src.write_bytes(b"PK zip")
        await store.put_file("example.com/m/@v/v1.0.0.zip", zip_src)
        await store.put("example.com/m/@v/v1.0.0.ziphash", b"h1:x")
        assert await store.get("example.com/m/@v/v1.0.0.zip") == b"PK zip"
        assert b"".join([c async for c in store.stream("example.com/m/@v/v1.0.0.zip")]) == b"PK zip"
        assert store.status()["unstored"] == 2

        server.start()
        await asyncio.sleep(0.25)
        deadline = time.monotonic() + 10
        while (store.degraded or store.status()["unstored"]) and time.monotonic() < deadline:
            await store.stat("example.com/m/@v/v1.0.0.info")
            await asyncio.sleep(0.1)
        assert not store.degraded
        assert store.status()["unstored"] == 0
        fresh = open_store(url, degrade=False)
        assert await fresh.get("example.com/m/@v/v1.0.0.zip") == b"PK zip"
        assert await fresh.get("example.com/m/@v/v1.0.0.ziphash") == b"h1:x"
        await fresh.aclose()
        spool = store._spool_root
        await store.aclose()
        assert not spool.exists(), "the spool directory is removed on close"


def test_spools_of_dead_processes_are_removed(tmp_path: Path) -> None:
    """A spool left by a killed process is removed when the next store starts."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"gomodproxy-spool-{dead.pid}-abc"
    (stale / "example.com/m/@v").mkdir(parents=True)
    (stale / "example.com/m/@v/v1.0.0.zip").write_bytes(b"partial")
    mine = tmp_path / f"gomodproxy-spool-{os.getpid()}-live"
    mine.mkdir()
    store = DegradingStore(MemoryStore(), spool_dir=tmp_path)
    assert not stale.exists()
    assert mine.exists()
    asyncio.run(store.aclose())


async def test_unreachable_s3_endpoint_starts_degraded() -> None:
    """At start-up an endpoint that does not answer is an outage, not a configuration error:
    the check passes and the store starts degraded (it recovers when the server answers)."""
    url = f"s3://k:s@bucket/p?endpoint=http://127.0.0.1:{free_port()}"
    store = open_store(url, retries=0)
    assert isinstance(store, DegradingStore)
    await store.check()
    assert store.degraded
    assert "Could not connect" in store.status()["last_error"]
    await store.aclose()
