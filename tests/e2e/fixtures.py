"""Helpers for end-to-end tests: fixture GOPROXY trees, our server in a subprocess, the go command.

Reusable by every e2e test:

- ``ModuleVersion`` + ``write_module(root, mv)`` / ``build_tree(root, [mv, ...])``: a
  ``file://`` GOPROXY tree (``.info``, ``.mod``, ``.zip`` and ``@v/list``) from file contents,
  with zips laid out as the go command expects (``path@version/`` prefixes, deflate).
- ``UpstreamServer``: a loopback HTTP server in a thread that serves such a tree and can be
  told to misbehave per request path (status, delay, garbage, truncation), counting hits.
- ``Server`` / ``start_server(...)``: ``gomodproxy serve`` in a subprocess on a free port,
  waited for on ``/healthz``, stopped with SIGTERM (``stop``) or SIGKILL (``kill``).
- ``go(env, *args, cwd=...)``: the real go command with a timeout, returning the result.
- ``http_get(url, headers)``: a tiny client returning ``(status, headers, body)``.
- ``parse_json_stream(text)``: the objects of ``go mod download -json`` output.
"""

from __future__ import annotations

import http.client
import http.server
import io
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[2]


def escape(s: str) -> str:
    """The go command's case escaping (``A`` → ``!a``), for building tree paths in tests."""
    return "".join("!" + c.lower() if "A" <= c <= "Z" else c for c in s)


@dataclass
class ModuleVersion:
    """One module version of a fixture upstream."""

    path: str
    version: str
    #: File names relative to the module root → contents; ``go.mod`` defaults to ``module <path>``.
    files: dict[str, bytes] = field(default_factory=dict)
    time: str = "2023-01-02T03:04:05Z"
    #: False for versions that a query resolves to but ``@v/list`` must not show (pseudo-versions).
    listed: bool = True

    @property
    def gomod(self) -> bytes:
        return self.files.get("go.mod", f"module {self.path}\n".encode())

    def zip_bytes(self) -> bytes:
        buf = io.BytesIO()
        prefix = f"{self.path}@{self.version}/"
        files = dict(self.files)
        files.setdefault("go.mod", self.gomod)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(files):
                # A fixed timestamp keeps the bytes (and so hashes) the same on every call.
                info = zipfile.ZipInfo(prefix + name, date_time=(2023, 1, 2, 3, 4, 6))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, files[name])
        return buf.getvalue()

    def info_bytes(self) -> bytes:
        return json.dumps(
            {"Version": self.version, "Time": self.time}, separators=(",", ":")
        ).encode()


def write_module(root: Path, mv: ModuleVersion, *, aliases: Iterable[str] = ()) -> None:
    """Add ``mv`` to the tree at ``root``; ``aliases`` are queries (branch names) whose
    ``.info`` resolves to it."""
    vdir = root / escape(mv.path) / "@v"
    vdir.mkdir(parents=True, exist_ok=True)
    ev = escape(mv.version)
    (vdir / f"{ev}.info").write_bytes(mv.info_bytes())
    (vdir / f"{ev}.mod").write_bytes(mv.gomod)
    (vdir / f"{ev}.zip").write_bytes(mv.zip_bytes())
    for alias in aliases:
        (vdir / f"{escape(alias)}.info").write_bytes(mv.info_bytes())
    listing = vdir / "list"
    lines = listing.read_text().split() if listing.exists() else []
    if mv.listed and mv.version not in lines:
        lines.append(mv.version)
    listing.write_text("".join(v + "\n" for v in lines))


def build_tree(root: Path, versions: Iterable[ModuleVersion]) -> Path:
    """A ``file://`` GOPROXY tree holding ``versions``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for mv in versions:
        write_module(root, mv)
    return root


def parse_json_stream(text: str) -> list[dict[str, Any]]:
    """The objects of a stream of JSON values, as ``go mod download -json`` prints them."""
    decoder, objs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, i = decoder.raw_decode(text, i)
        objs.append(obj)
    return objs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(
    url: str, headers: Mapping[str, str] | None = None, method: str = "GET", timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """One request; ``(status, lower-cased headers, body)``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request(method, parts.path, headers=dict(headers or {}))
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


# -- a misbehaving upstream --------------------------------------------------------------

#: A fault: given the request path, return None (serve normally) or a
#: ``(status, body, delay_seconds)`` to answer instead; ``status`` 0 closes the connection
#: after sending ``body`` as a truncated 200 response.
Fault = Callable[[str], "tuple[int, bytes, float] | None"]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler without the default access log (a stderr line per request)."""

    def log_message(self, format: str, *args: object) -> None:
        return


def send_json(handler: http.server.BaseHTTPRequestHandler, doc: object) -> None:
    """Answer the request ``handler`` is serving with ``doc`` as a 200 JSON body."""
    body = json.dumps(doc).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class LoopbackHTTP:
    """A threaded HTTP server on a free loopback port, serving inside ``with`` (or between
    ``start`` and ``close``); subclasses pass their request handler class."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler], poll: float = 0.5):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(poll,), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UpstreamServer(LoopbackHTTP):
    """Serves a fixture tree over HTTP on loopback, with injectable faults and hit counts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                try:
                    self._get()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up; nothing to report

            def _get(self) -> None:
                path = unquote(urlsplit(self.path).path)
                with outer._lock:
                    outer.hits[path] += 1
                for fault in list(outer.faults):
                    answer = fault(path)
                    if answer is not None:
                        status, body, delay = answer
                        time.sleep(delay)
                        if status == 0:
                            self.send_response(200)
                            self.send_header("Content-Length", str(len(body) * 2 + 10))
                            self.end_headers()
                            self.wfile.write(body)
                            self.wfile.flush()
                            self.close_connection = True
                            return
                        self._send(status, body, "text/plain; charset=utf-8")
                        return
                if outer.delay:
                    time.sleep(outer.delay)
                file = outer.root / path.lstrip("/")
                if ".." in path.split("/") or not file.is_file():
                    self._send(404, f"not found: {path}\n".encode(), "text/plain; charset=utf-8")
                    return
                self._send(200, file.read_bytes(), "application/octet-stream")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)

    def count(self, suffix: str) -> int:
        """Hits on paths ending with ``suffix``."""
        with self._lock:
            return sum(n for p, n in self.hits.items() if p.endswith(suffix))


# -- our server in a subprocess -----------------------------------------------------------


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for ``gomodproxy serve``: no Go or proxy settings from the machine,
    and ``GOSUMDB=off`` (no network here) unless ``extra`` sets it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GO", "GOMODPROXY_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env["GOENV"] = "off"
    env["GOFLAGS"] = ""
    # Fixture modules are in no public checksum database (and tests have no network): the
    # proxy verifies against one only when a test names it (tests/e2e/test_sumdb.py).
    env["GOSUMDB"] = "off"
    env["GOSUMDB"] = "off"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Server:
    """A running ``gomodproxy serve``."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def get(
        self, path: str, headers: Mapping[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.url + path, headers, method)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait: a graceful shutdown."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the whole process group (workers included)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log_lines(self) -> list[dict[str, object]]:
        """The JSON request log lines written so far."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def start_server(
    storage: Path | str,
    upstream: str,
    *,
    workers: int = 1,
    args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    timeout: float = 20,
    ca: Path | None = None,
) -> Server:
    """Start ``gomodproxy serve`` on a free loopback port and wait until it answers.

    With ``ca`` (pass ``--tls-cert``/``--tls-key`` in ``args``) it serves https and is
    probed with that CA.
    """
    port = free_port()
    log_path = log_path or Path(str(storage) + f".{port}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "gomodproxy",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--storage",
        str(storage),
        "--upstream",
        upstream,
        "--workers",
        str(workers),
        *args,
    ]
    out = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=server_env(env), start_new_session=True
    )
    out.close()
    server = Server(proc, f"{'https' if ca else 'http'}://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"gomodproxy serve exited {proc.returncode}:\n{log_path.read_text()}"
            )
        try:
            if _healthz(server, ca) == 200:
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"gomodproxy serve did not start:\n{log_path.read_text()}")


def _healthz(server: Server, ca: Path | None) -> int:
    if ca is None:
        return server.get("/healthz")[0]
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(server.url + "/healthz", context=context, timeout=2) as r:
        return int(r.status)


def go(
    env: Mapping[str, str], *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the go command; the result has ``returncode``, ``stdout`` and ``stderr``."""
    return subprocess.run(
        ["go", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
