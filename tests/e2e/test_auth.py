"""Access control against the real go command over https with a test CA and ``.netrc``.

One ``gomodproxy serve`` with TLS (a CA and server certificate made here with cryptography's
x509 builder; the go command trusts it through SSL_CERT_FILE), a credentials file written by
``gomodproxy user add``, and access rules:

- ``corp.example.com/secret`` only for alice; the rest of ``corp.example.com`` for group dev;
- ``example.org/pub`` is public.

The go command authenticates from the ``.netrc`` named by NETRC, as it does natively.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from gomodproxy.security.users import add_user
from tests.e2e.certs import certificate, new_key, write_cert, write_key
from tests.e2e.fixtures import ModuleVersion, build_tree, go, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

SECRET = ModuleVersion("corp.example.com/secret", "v1.0.0", {"s.go": b"package secret\n"})
TEAM = ModuleVersion("corp.example.com/team", "v1.2.0", {"t.go": b"package team\n"})
PUBLIC = ModuleVersion("example.org/pub", "v0.3.0", {"p.go": b"package pub\n"})
RULES = "corp.example.com/secret=alice; corp.example.com=@dev"


def make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    ca_key, key = new_key(), new_key()
    hour = datetime.timedelta(hours=1)
    ca = certificate(
        "gomodproxy test CA",
        ca_key,
        valid_before=hour,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
        ],
    )
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = certificate(
        "127.0.0.1",
        key,
        issuer=("gomodproxy test CA", ca_key),
        valid_before=hour,
        extensions=[
            (x509.SubjectAlternativeName(san), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
        ],
    )
    return (
        write_cert(directory / "ca.pem", ca),
        write_cert(directory / "server.pem", cert),
        write_key(directory / "server.key", key),
    )


@dataclass
class TLSServer:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    ca: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def audit(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            start = line.find('{"event":"audit"')
            if start >= 0:
                out.append(json.loads(line[start:]))
        return out


def start_tls_server(tmp: Path, upstream: Path, ca: Path, cert: Path, key: Path, *extra: str):
    server = start_server(
        tempfile.mkdtemp(prefix="data-", dir=tmp),
        f"file://{upstream}",
        args=["--tls-cert", str(cert), "--tls-key", str(key), *extra],
        # GOPRIVATE without a rule would be refused to all; here the rules cover it, and
        # GONOPROXY is set so the proxy still reads these modules from its upstream.
        env={"GOPRIVATE": "corp.example.com", "GONOPROXY": "none.invalid"},
        ca=ca,
    )
    return TLSServer(server.proc, server.url, server.log_path, ca)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("auth")
    ca, cert, key = make_ca(tmp)
    upstream = build_tree(tmp / "upstream", [SECRET, TEAM, PUBLIC])
    creds = tmp / "credentials.json"
    cli = [sys.executable, "-m", "gomodproxy", "user", "add", "--file", str(creds)]
    subprocess.run([*cli, "alice", "--password-stdin"], input=b"alice-pw\n", check=True)
    add_user(creds, "bob", password="bob-pw", groups=["dev"])
    token = (
        subprocess.run(
            [*cli, "ci-bot", "--group", "dev", "--token"], capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )
    server = start_tls_server(
        tmp,
        upstream,
        ca,
        cert,
        key,
        "--set",
        f"auth_file={creds}",
        "--set",
        f"access_rules={RULES}",
    )
    try:
        yield {
            "tmp": tmp,
            "server": server,
            "ca": ca,
            "cert": cert,
            "key": key,
            "upstream": upstream,
            "creds": creds,
            "token": token,
        }
    finally:
        server.stop()


def client_env(
    go_env: dict[str, str], world: dict[str, object], netrc: str | None
) -> dict[str, str]:
    server = world["server"]
    assert isinstance(server, TLSServer)
    env = dict(go_env)
    home = Path(env["GOPATH"]).parent / "home"
    home.mkdir(exist_ok=True)
    netrc_path = home / ".netrc"
    if netrc is not None:
        netrc_path.write_text(netrc.replace("{hostport}", server.url.removeprefix("https://")))
        netrc_path.chmod(0o600)
    env.update(
        {
            "HOME": str(home),
            "NETRC": str(netrc_path),
            "GOPROXY": server.url,
            "GOSUMDB": "off",
            "SSL_CERT_FILE": str(server.ca),
        }
    )
    return env


def download(env: dict[str, str], mv: ModuleVersion) -> subprocess.CompletedProcess[str]:
    return go(env, "mod", "download", "-json", f"{mv.path}@{mv.version}")


def netrc_for(login: str, password: str) -> str:
    # The go command (1.24+) matches a machine against host:port of the URL, port included.
    return f"machine {{hostport}} login {login} password {password}\n"


def test_allowed_principal_downloads_private_module(
    go_env: dict[str, str], world: dict[str, object]
) -> None:
    """alice's .netrc credentials fetch corp.example.com/secret through https."""
    env = client_env(go_env, world, netrc_for("alice", "alice-pw"))
    r = download(env, SECRET)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["Version"] == "v1.0.0"
    assert Path(info["Zip"]).is_file()


def test_other_principal_gets_403(go_env: dict[str, str], world: dict[str, object]) -> None:
    """bob (group dev) may read the team module but gets 403 for alice's module."""
    env = client_env(go_env, world, netrc_for("bob", "bob-pw"))
    assert download(env, TEAM).returncode == 0
    r = download(env, SECRET)
    assert r.returncode != 0
    assert "403 Forbidden" in r.stdout + r.stderr
    assert "bob may not read corp.example.com/secret" in r.stdout + r.stderr
    server = world["server"]
    assert isinstance(server, TLSServer)
    denied: list[dict[str, object]] = []
    deadline = time.monotonic() + 10  # audit lines are written in batches: wait for them
    while not denied and time.monotonic() < deadline:
        denied = [
            e
            for e in server.audit()
            if e["principal"] == "bob" and e["module"] == SECRET.path and e["decision"] == "deny"
        ]
        time.sleep(0.05)
    assert denied
    assert all(e["status"] == 403 for e in denied)


def test_anonymous_gets_404_for_private_and_reads_public(
    go_env: dict[str, str], world: dict[str, object]
) -> None:
    """No .netrc: a private module does not exist (404), a public one downloads."""
    env = client_env(go_env, world, None)
    r = download(env, SECRET)
    assert r.returncode != 0
    assert "404 Not Found" in r.stdout + r.stderr
    assert download(env, PUBLIC).returncode == 0


def test_token_as_netrc_password(go_env: dict[str, str], world: dict[str, object]) -> None:
    """A machine account's token works as the .netrc password; a wrong one gets 401."""
    env = client_env(go_env, world, netrc_for("ci-bot", str(world["token"])))
    assert download(env, TEAM).returncode == 0
    env = client_env(go_env, world, netrc_for("ci-bot", "gmp_wrong"))
    r = download(env, PUBLIC)
    assert r.returncode != 0
    assert "401 Unauthorized" in r.stdout + r.stderr


def test_anonymous_public_off(go_env: dict[str, str], world: dict[str, object]) -> None:
    """With anonymous_public=false, anonymous callers get 401 for public modules too."""
    tmp = world["tmp"]
    assert isinstance(tmp, Path)
    server = start_tls_server(
        tmp,
        world["upstream"],  # type: ignore[arg-type]
        world["ca"],  # type: ignore[arg-type]
        world["cert"],  # type: ignore[arg-type]
        world["key"],  # type: ignore[arg-type]
        "--set",
        f"auth_file={world['creds']}",
        "--set",
        f"access_rules={RULES}",
        "--set",
        "anonymous_public=false",
    )
    try:
        env = client_env(go_env, {**world, "server": server}, None)
        r = download(env, PUBLIC)
        assert r.returncode != 0
        assert "401 Unauthorized" in r.stdout + r.stderr
        env = client_env(go_env, {**world, "server": server}, netrc_for("bob", "bob-pw"))
        assert download(env, PUBLIC).returncode == 0
    finally:
        server.stop()
