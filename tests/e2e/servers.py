"""Real redis-server, docker-registry and MinIO processes on free loopback ports, for tests.

``RedisServer``, ``RegistryServer`` and ``MinioServer`` start, stop (gracefully or with
SIGKILL) and restart on the same port with the same data, which is what the chaos tests need.
The session fixtures ``redis_server``, ``registry_server`` and ``minio_server`` share one of
each per test session; tests isolate
themselves with their own Redis key prefix or DB, their own registry repository prefix or
their own object prefix in the one bucket of ``minio_server``.
Import the fixtures into a test module or conftest to use them. Missing binaries skip the test
(``make test`` installs them through tools/sysdeps.sh, MinIO through tools/minio.sh).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.e2e.fixtures import LoopbackHTTP, QuietHandler, send_json


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

    def environment(self) -> dict[str, str] | None:
        """The process environment (None: this one's)."""
        return None

    def start(self) -> None:
        """Start the process and wait until it answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.environment(),
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
  cache:
    blobdescriptor: inmemory
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


class MinioServer(_Process):
    """MinIO (built by tools/minio.sh) on one local drive, bound to 127.0.0.1, with its root
    credentials; the data directory survives a kill, so a restart serves the same bucket."""

    name = "minio"
    access_key = "gomodproxy-test"
    secret_key = "gomodproxy-test-secret"

    def __init__(self, workdir: Path, binary: str, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.extra_env = extra_env or {}
        self.console_port = free_port()
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [
            self.binary, "server", "--quiet",
            "--address", f"127.0.0.1:{self.port}",
            "--console-address", f"127.0.0.1:{self.console_port}",
            str(self.data),
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            **self.extra_env,
        }

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.port}/minio/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as r:
                return int(r.status) == 200
        except (OSError, urllib.error.HTTPError):
            return False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        """A synchronous botocore S3 client with the root credentials, for test set-up."""
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def make_bucket(self, bucket: str) -> str:
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def store_url(self, bucket: str, prefix: str, *, credentials: bool = True) -> str:
        """``s3://`` URL of ``bucket``/``prefix`` on this server (root keys in the user-info
        unless ``credentials`` is False, then they come from the environment)."""
        user = f"{self.access_key}:{self.secret_key}@" if credentials else ""
        return f"s3://{user}{bucket}/{prefix}?endpoint={self.endpoint}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables that give a client this server's root credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }


def minio_binary() -> str:
    """The MinIO server binary, or a skip when it is not built yet."""
    path = os.environ.get("GOMODPROXY_MINIO")
    if not path:
        script = Path(__file__).resolve().parents[2] / "tools" / "minio.sh"
        out = subprocess.run(["bash", str(script), "path"], capture_output=True, text=True)
        path = out.stdout.strip()
    if not path or not os.access(path, os.X_OK):
        pytest.skip("MinIO is not built (make test builds it; or run tools/minio.sh)")
    return path


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


#: The bucket of the session's MinIO server.
MINIO_BUCKET = "gomodproxy"


@pytest.fixture(scope="session")
def minio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    """One MinIO server for the session with the bucket ``MINIO_BUCKET`` (tests use their own
    object prefix in it)."""
    server = MinioServer(tmp_path_factory.mktemp("minio"), minio_binary())
    with running(server):
        server.make_bucket(MINIO_BUCKET)
        yield server


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWTs and JWKs write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``header.claims`` of a JWT, each base64url JSON: what its signature signs."""
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


class TokenServer(LoopbackHTTP):
    """A registry token service (the Docker token flow) on a loopback port, for
    docker-registry's ``auth: token`` config: checks basic credentials, grants every scope
    asked for, and signs ES256 JWTs with a self-signed certificate the registry trusts."""

    service = "gomodproxy-test"
    issuer = "gomodproxy-test-issuer"

    def __init__(self, workdir: Path, username: str, password: str) -> None:

        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        from tests.e2e.certs import certificate, new_key, write_cert

        self.key = new_key()
        ca = x509.BasicConstraints(ca=True, path_length=None)
        cert = certificate("token-signer", self.key, extensions=[(ca, True)])
        self.cert_path = write_cert(workdir / "token-cert.pem", cert)
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.requests = 0
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if self.headers.get("Authorization") != outer.expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                scopes = " ".join(query.get("scope", [])).split()
                send_json(self, {"token": outer.sign(scopes), "expires_in": 300})

        super().__init__(Handler)

    def sign(self, scopes: list[str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "tester",
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        signing_input = jwt_signing_input(header, claims)
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def registry_config(self) -> str:
        return f"""auth:
  token:
    realm: http://127.0.0.1:{self.port}/token
    service: {self.service}
    issuer: {self.issuer}
    rootcertbundle: {self.cert_path}
"""


def htpasswd_config(workdir: Path, username: str, password: str) -> str:
    """docker-registry config for basic auth with a bcrypt htpasswd file (skips without crypt)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("no bcrypt available to write an htpasswd file")
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("the C library has no bcrypt")
    path = workdir / "htpasswd"
    path.write_text(f"{username}:{hashed}\n")
    return f"""auth:
  htpasswd:
    realm: gomodproxy-test
    path: {path}
"""
