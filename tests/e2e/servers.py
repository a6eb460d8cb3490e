"""Real redis-server and docker-registry processes on free loopback ports, for tests.

``RedisServer`` and ``RegistryServer`` start, stop (gracefully or with SIGKILL) and restart on
the same port with the same data, which is what the chaos tests need. The session fixtures
``redis_server`` and ``registry_server`` share one of each per test session; tests isolate
themselves with their own Redis key prefix or DB and their own registry repository prefix.
Import the fixtures into a test module or conftest to use them. Missing binaries skip the test
(``make test`` installs them through tools/sysdeps.sh).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port


def _wait(check: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout}s")


class _Process:
    """A server process we own, restartable on the same port."""

    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start the process and wait until it answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        try:
            _wait(self.ready, f"{self.name} on port {self.port}")
        except RuntimeError:
            self.stop(kill=True)
            raise RuntimeError(self.log.read_text(errors="replace")[-2000:]) from None

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process: SIGTERM and wait, or SIGKILL when ``kill``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class RedisServer(_Process):
    """``redis-server`` without persistence, bound to 127.0.0.1."""

    name = "redis"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--protected-mode", "no",
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class RegistryServer(_Process):
    """Debian's ``docker-registry`` (distribution) with filesystem storage and deletes on."""

    name = "registry"

    def __init__(self, workdir: Path, extra_config: str = "") -> None:
        super().__init__(workdir)
        self.config = workdir / "config.yml"
        # A fixed secret keeps upload-session state valid across restarts.
        secret = secrets.token_hex(16)
        self.config.write_text(
            f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {workdir / "data"}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{self.port}
  secret: {secret}
{extra_config}"""
        )

    def command(self) -> list[str]:
        return ["docker-registry", "serve", str(self.config)]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=0.5) as r:
                return int(r.status) == 200
        except urllib.error.HTTPError as exc:
            return exc.code == 401  # up, with auth configured
        except OSError:
            return False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def store_url(self, prefix: str) -> str:
        return f"oci://{self.host}/{prefix}"


def need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (make test installs it)")


@contextlib.contextmanager
def running(server: _Process) -> Iterator[_Process]:
    server.start()
    try:
        yield server
    finally:
        server.stop(kill=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (tests use their own key prefix)."""
    need("redis-server")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    with running(server):
        yield server


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One docker-registry for the session (tests use their own repository prefix)."""
    need("docker-registry")
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    with running(server):
        yield server
