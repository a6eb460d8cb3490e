"""A real nginx, started as the test user from a config ``gomodproxy nginx-config`` generated:
tmp prefix, pid, logs and temp paths, a free loopback port. Shared by the nginx-front test and
``bench/bench_nginx_front.py``."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import free_port
from tests.e2e.fixtures import server_env


class Nginx:
    """nginx in the foreground (``daemon off``) under ``workdir``."""

    def __init__(self, workdir: Path, config_text: str, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(config_text)
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        self.error_log = workdir / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        base = ["nginx", "-p", str(self.workdir), "-e", str(self.error_log), "-c", str(self.conf)]
        check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
        self.proc = subprocess.Popen(
            [*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"nginx exited {self.proc.returncode}: {err}")
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # nginx answers (gomodproxy may not be there in a plain setup)
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown of master and workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


def nginx_available() -> bool:
    return shutil.which("nginx") is not None


def generate_front_config(
    workdir: Path, storage: Path, proxy_port: int, *, access_log: str = "off", workers: int = 1
) -> tuple[str, int]:
    """Run ``gomodproxy nginx-config`` for a front on a free port; (config text, port)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gomodproxy",
            "nginx-config",
            "--storage",
            str(storage),
            "--listen",
            f"127.0.0.1:{proxy_port}",
            "--upstream",
            "off",
            "--front",
            f"127.0.0.1:{port}",
            "--pid",
            str(workdir / "nginx.pid"),
            "--error-log",
            str(workdir / "error.log"),
            "--access-log",
            access_log,
            "--temp-dir",
            str(workdir / "tmp"),
            "--worker-processes",
            str(workers),
            "--user",
            getpass.getuser(),  # as root, workers would otherwise be nobody (no tmp access)
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env({"GOPRIVATE": "none", "GONOPROXY": "none", "GONOSUMDB": "none"}),
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"nginx-config failed: {out.stderr}")
    return out.stdout, port


def plain_config(workdir: Path, root: Path, *, workers: int = 1) -> tuple[str, int]:
    """A plain static nginx on the same files, same content types (the benchmark's baseline)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    t = workdir / "tmp"
    text = f"""user {getpass.getuser()};
worker_processes {workers};
pid "{workdir / "nginx.pid"}";
events {{ worker_connections 4096; }}
http {{
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000;
    access_log off;
    types {{ application/json info; application/zip zip; text/plain mod; }}
    client_body_temp_path "{t}/client_body";
    proxy_temp_path "{t}/proxy";
    fastcgi_temp_path "{t}/fastcgi";
    uwsgi_temp_path "{t}/uwsgi";
    scgi_temp_path "{t}/scgi";
    server {{
        listen 127.0.0.1:{port};
        root "{root}";
    }}
}}
"""
    return text, port


__all__ = ["Nginx", "generate_front_config", "nginx_available", "plain_config"]
