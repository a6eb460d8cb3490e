"""TLS serving reloads its certificate on SIGHUP, without a restart."""

from __future__ import annotations

import signal
import ssl
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.fixtures import ModuleVersion, build_tree
from tests.e2e.test_auth import make_ca, start_tls_server

pytestmark = [pytest.mark.e2e]


def _served_by(url: str, ca: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(url + "/healthz", context=context, timeout=5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_sighup_reloads_certificate(tmp_path: Path) -> None:
    """After the files change and SIGHUP, new connections get the new certificate."""
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    ca1, cert1, key1 = make_ca(first)
    ca2, cert2, key2 = make_ca(second)
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes(cert1.read_bytes())
    live_key.write_bytes(key1.read_bytes())
    upstream = build_tree(tmp_path / "up", [ModuleVersion("example.org/x", "v1.0.0")])
    server = start_tls_server(tmp_path, upstream, ca1, live_cert, live_key)
    try:
        assert _served_by(server.url, ca1)
        assert not _served_by(server.url, ca2)
        live_cert.write_bytes(cert2.read_bytes())
        live_key.write_bytes(key2.read_bytes())
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not _served_by(server.url, ca2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _served_by(server.url, ca2)
        assert not _served_by(server.url, ca1)
        assert server.proc.poll() is None
    finally:
        server.stop()
