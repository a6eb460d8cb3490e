"""``gomodproxy mod verify`` reads the registry itself, never through the degrading wrapper:
a registry that fails its reads must show up as problems, not as "all verified"."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gomodproxy.storage import open_store
from tests.e2e.fixtures import LoopbackHTTP, QuietHandler
from tests.e2e.servers import RegistryServer, registry_server

__all__ = ["registry_server"]

pytestmark = pytest.mark.e2e

MOD_KEY = "example.com/m/@v/v1.0.0.mod"


class BlobsDown(LoopbackHTTP):
    """A loopback front of a registry that answers everything but blob reads (503)."""

    def __init__(self, registry: str) -> None:
        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def _forward(self, method: str) -> None:
                if "/blobs/" in self.path:
                    self._answer(503, {}, b"registry storage down\n")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                request = urllib.request.Request(registry + self.path, None, headers, method=method)
                try:
                    with urllib.request.urlopen(request, timeout=10) as r:
                        self._answer(r.status, dict(r.headers), r.read())
                except urllib.error.HTTPError as exc:
                    self._answer(exc.code, dict(exc.headers), exc.read())

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        super().__init__(Handler)
        self.host = f"127.0.0.1:{self.port}"


@pytest.fixture
def blobs_down(registry_server: RegistryServer) -> Iterator[BlobsDown]:
    with BlobsDown(f"http://{registry_server.host}") as front:
        yield front


async def _store_one_mod(url: str) -> None:
    store = open_store(url, degrade=False)
    try:
        await store.put(MOD_KEY, b"module example.com/m\n")
    finally:
        await store.aclose()


def test_verify_reports_a_registry_that_fails_reads(
    registry_server: RegistryServer, blobs_down: BlobsDown, tmp_path: Path
) -> None:
    asyncio.run(_store_one_mod(registry_server.store_url("verifydown")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOMODPROXY_"))}
    env.update({"GOSUMDB": "off", "GOPROXY": "off", "GOENV": "off", "HOME": str(tmp_path)})
    storage = f"oci://{blobs_down.host}/verifydown"
    out = subprocess.run(
        [sys.executable, "-m", "gomodproxy", "mod", "verify", "--storage", storage],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode != 0, out.stdout + out.stderr
    assert "verified" not in out.stdout.replace("failed verification", ""), out.stdout
    assert "example.com/m" in out.stdout, out.stdout + out.stderr
