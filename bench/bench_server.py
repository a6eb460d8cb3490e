"""Warm-hit throughput of ``gomodproxy serve`` against nginx on the same storage directory.

What it measures, in one run on one machine:

1. Warm hits: ``wrk`` against ``.info`` and a 1 MiB ``.zip`` already in storage, served by
   gomodproxy with default settings (granian, one worker per CPU), by nginx (one worker per
   CPU, sendfile, ``try_files`` on the storage directory: the tree is a valid ``file://``
   GOPROXY), and by gomodproxy on uvicorn (``http_server = "uvicorn"``) for comparison.
   Rounds alternate between the servers so that noise from other processes hits all of them;
   the median of the rounds is reported, with the ratio to nginx.
2. Cold fetches: N module versions (``.info``, ``.mod``, 1 MiB ``.zip``) fetched once through
   an empty gomodproxy whose upstream is an nginx serving the fixture tree, against the same
   requests sent straight to that upstream. The difference per module is our overhead
   (validation, hashing, storing).

Run: ``python -m bench.bench_server`` (or ``make bench``). Needs ``wrk`` and ``nginx``.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.fixtures import (  # noqa: E402
    ModuleVersion,
    Server,
    free_port,
    start_server,
    write_module,
)

from bench.common import wrk_non_2xx, wrk_requests_per_sec, wrk_threads  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
COLD_MODULES = int(os.environ.get("BENCH_COLD_MODULES", "20"))
TARGET_RATIO = 0.5


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    m = re.match(r"([0-9.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str) -> WrkResult:
    out = subprocess.run(
        ["wrk", "-t", wrk_threads(), "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = wrk_requests_per_sec(out)
    p50 = re.search(r"50%\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    return WrkResult(
        rps,
        _ms(p50.group(1)) if p50 else float("nan"),
        _ms(p99.group(1)) if p99 else float("nan"),
        wrk_non_2xx(out),
    )


class Nginx:
    """nginx serving ``root`` on a loopback port, one worker per CPU, as a static GOPROXY."""

    def __init__(self, root: Path, work: Path, port: int) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.url = f"http://127.0.0.1:{port}"
        conf = work / "nginx.conf"
        conf.write_text(
            f"""
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types {{ application/json info; application/zip zip; text/plain mod; }}
  client_body_temp_path {work}/tmp;
  proxy_temp_path {work}/tmp;
  fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp;
  scgi_temp_path {work}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location ~ /\\. {{ return 404; }}
    location / {{ try_files $uri =404; }}
  }}
}}
"""
        )
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
                return
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


def fixture(root: Path, n: int) -> list[ModuleVersion]:
    rng = random.Random(42)
    versions = []
    for i in range(n):
        data = rng.randbytes(1 << 20)  # incompressible: the zip is about 1 MiB
        mv = ModuleVersion(f"bench.test/m{i}", "v1.0.0", {"data.bin": data})
        write_module(root, mv)
        versions.append(mv)
    return versions


def fetch_all(base: str, mods: list[ModuleVersion]) -> float:
    """Seconds to GET .info, .mod and .zip of every module over one keep-alive connection."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    start = time.perf_counter()
    for mv in mods:
        for ext in ("info", "mod", "zip"):
            conn.request("GET", f"/{mv.path}/@v/{mv.version}.{ext}")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(
                    f"{base}/{mv.path}@{mv.version}.{ext}: {resp.status} {body[:200]!r}"
                )
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def warm_hits(urls: dict[str, str]) -> dict[str, dict[str, WrkResult]]:
    """artifact → server name → median result; rounds alternate between the servers."""
    paths = {"info": "/bench.test/m0/@v/v1.0.0.info", "zip (1 MiB)": "/bench.test/m0/@v/v1.0.0.zip"}
    results: dict[str, dict[str, WrkResult]] = {}
    for name, path in paths.items():
        runs: dict[str, list[WrkResult]] = {server: [] for server in urls}
        for _ in range(ROUNDS):
            for server, base in urls.items():
                runs[server].append(wrk(base + path))
        results[name] = {server: _median(rs) for server, rs in runs.items()}
    return results


def _median(rs: list[WrkResult]) -> WrkResult:
    return WrkResult(
        statistics.median(r.rps for r in rs),
        statistics.median(r.p50_ms for r in rs),
        statistics.median(r.p99_ms for r in rs),
        sum(r.errors for r in rs),
    )


def run() -> None:
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if missing:
        print(f"bench_server: skipped, missing {', '.join(missing)}")
        return
    with tempfile.TemporaryDirectory(prefix="gomodproxy-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as another user when started by root
        mods = fixture(work / "upstream", COLD_MODULES)

        def started(server: Server) -> Server:
            stack.callback(server.stop)
            return server

        upstream = Nginx(work / "upstream", work / "nginx-upstream", free_port())
        stack.callback(upstream.stop)
        cold_server = started(start_server(work / "cold-data", upstream.url, workers=0))
        direct = fetch_all(upstream.url, mods)
        cold = fetch_all(cold_server.url, mods)
        warm_again = fetch_all(cold_server.url, mods)
        # Default settings (granian, one worker per CPU), and uvicorn for comparison; both
        # on the same storage directory that nginx serves.
        server = started(start_server(work / "data", upstream.url, workers=0))
        fetch_all(server.url, mods[:1])  # into storage
        uvicorn = started(
            start_server(
                work / "data", upstream.url, workers=0, args=["--set", "http_server=uvicorn"]
            )
        )
        nginx = Nginx(work / "data", work / "nginx-data", free_port())
        stack.callback(nginx.stop)
        results = warm_hits({"gomodproxy": server.url, "nginx": nginx.url, "uvicorn": uvicorn.url})

    cpus = os.cpu_count()
    print(
        f"Warm hits, {CONNECTIONS} connections, median of {ROUNDS} x {SECONDS}s rounds, "
        f"{cpus} CPUs:"
    )
    print(
        f"{'artifact':<13}{'gomodproxy req/s':>18}{'nginx req/s':>13}{'ratio':>7}"
        f"{'p50 ms ours/nginx':>19}{'p99 ms ours/nginx':>19}{'uvicorn req/s':>15}{'ratio':>7}"
    )
    ok = True
    for name, by_server in results.items():
        ours, theirs, uvi = by_server["gomodproxy"], by_server["nginx"], by_server["uvicorn"]
        ratio = ours.rps / theirs.rps if theirs.rps else float("nan")
        ok = ok and ratio >= TARGET_RATIO and ours.errors == 0
        print(
            f"{name:<13}{ours.rps:>18,.0f}{theirs.rps:>13,.0f}{ratio:>7.2f}"
            f"{f'{ours.p50_ms:.2f}/{theirs.p50_ms:.2f}':>19}"
            f"{f'{ours.p99_ms:.2f}/{theirs.p99_ms:.2f}':>19}"
            f"{uvi.rps:>15,.0f}{uvi.rps / theirs.rps if theirs.rps else float('nan'):>7.2f}"
        )
    n = len(mods)
    print(f"Cold fetch of {n} modules (.info, .mod, 1 MiB .zip each), one client:")
    print(f"  straight from the upstream: {direct * 1000 / n:7.2f} ms/module")
    print(
        f"  through empty gomodproxy:   {cold * 1000 / n:7.2f} ms/module "
        f"(overhead {(cold - direct) * 1000 / n:+.2f} ms/module)"
    )
    print(f"  through gomodproxy, warm:   {warm_again * 1000 / n:7.2f} ms/module")
    print(f"Target (>= {TARGET_RATIO}x nginx req/s on both): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    run()
