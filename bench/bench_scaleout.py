"""Scale-out: 3 replicas on the shared backends (docker-registry + Redis) against 1 replica on
the filesystem, and the latency of a single-flight wait across replicas. All in one run.

1. Warm hits. ``wrk`` on ``.info`` and a 1 MiB ``.zip`` already fetched: one replica on the
   filesystem (one wrk), then three replicas on the registry and Redis (three wrk at once,
   one per replica, their requests/s summed). Every replica has one worker, so the two
   set-ups use 1 and 3 processes. Warm hits come from each replica's memory, so this shows
   what the shared backends cost on the hot path: nothing but the extra processes.
2. Storage hits. The same with the in-memory cache off (``hot_cache_bytes = 0``): every
   request reads storage, the filesystem (sendfile) against the registry (HTTP round trips).
3. Cross-replica single-flight wait. For each of N cold modules (upstream answers after
   ``DELAY`` s): a request to replica A starts the fetch, one to replica B arrives 50 ms
   later and waits. Reported: how long B's answer comes after A's. Baseline in the same
   run: the same with both requests on replica A (an in-process wait).

Run: ``python -m bench.bench_scaleout`` (or ``make bench``). Needs wrk, redis-server and
docker-registry. The machine's CPU count bounds what 3 replicas can gain.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.fixtures import (  # noqa: E402
    ModuleVersion,
    Server,
    UpstreamServer,
    build_tree,
    escape,
    http_get,
    start_server,
)
from tests.e2e.servers import RedisServer, RegistryServer, running  # noqa: E402

from bench.common import wrk_non_2xx, wrk_requests_per_sec  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "48"))
WAITS = int(os.environ.get("BENCH_WAITS", "10"))
DELAY = 0.3


def wrk_rps(urls: list[str]) -> float:
    """Requests/s of one wrk per URL running at the same time, summed."""
    conns = max(1, CONNECTIONS // len(urls))
    procs = [
        subprocess.Popen(
            ["wrk", "-t", "1", "-c", str(conns), "-d", f"{SECONDS}s", url],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    total = 0.0
    for p in procs:
        out, _ = p.communicate()
        if wrk_non_2xx(out):
            raise RuntimeError(f"wrk saw errors:\n{out}")
        total += wrk_requests_per_sec(out)
    return total


@contextmanager
def cluster(
    n: int, tmp: Path, storage: str, upstream: str, redis: str | None, hot: bool = True
) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        for i in range(n):
            args = ["--workers", "1", "--set", f"temp_dir={tmp / f'tmp-{i}'}"]
            args += ["--set", "access_log=false"]
            if redis:
                args += ["--redis", redis]
            if not hot:
                args += ["--set", "hot_cache_bytes=0"]
            servers.append(
                start_server(
                    storage,
                    upstream,
                    args=args,
                    env={"TMPDIR": str(tmp)},
                    log_path=tmp / f"r{i}-{time.time()}.log",
                )
            )
        yield servers
    finally:
        for s in servers:
            s.kill()


def warm(servers: list[Server], paths: list[str]) -> dict[str, float]:
    for s in servers:
        for p in paths:
            status, _, _ = http_get(s.url + p)
            assert status == 200, (s.url, p, status)
    return {p.rsplit(".", 1)[1]: wrk_rps([s.url + p for s in servers]) for p in paths}


def single_flight_waits(
    a: Server, b: Server, up: UpstreamServer, mods: list[ModuleVersion]
) -> list[float]:
    """Seconds between A's answer and B's, B asking 50 ms after A for the same cold zip."""
    gaps = []
    for mv in mods:
        path = f"/{escape(mv.path)}/@v/{mv.version}.zip"
        done: dict[str, float] = {}

        def get(name: str, server: Server, path: str = path, done: dict[str, float] = done) -> None:
            status, _, _ = http_get(server.url + path, timeout=60)
            assert status == 200
            done[name] = time.perf_counter()

        ta = threading.Thread(target=get, args=("a", a))
        ta.start()
        time.sleep(0.05)
        get("b", b)
        ta.join()
        gaps.append(done["b"] - done["a"])
    assert up.count(".zip") == len(mods), "each module must be fetched exactly once"
    return gaps


def run() -> None:
    for tool in ("wrk", "redis-server", "docker-registry"):
        if shutil.which(tool) is None:
            print(f"bench_scaleout: {tool} is not installed; skipped")
            return
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as d, ExitStack() as stack:
        tmp = Path(d)
        hot = ModuleVersion("example.com/Bench", "v1.0.0", {"data.bin": os.urandom(1024 * 1024)})
        cold = [
            ModuleVersion(f"example.com/cold{i}", "v0.1.0", {"c.go": b"package c\n"})
            for i in range(2 * WAITS)
        ]
        root = build_tree(tmp / "upstream", [hot, *cold])
        for sub in ("registry", "redis"):
            (tmp / sub).mkdir()
        registry = stack.enter_context(running(RegistryServer(tmp / "registry")))
        redis = stack.enter_context(running(RedisServer(tmp / "redis")))
        up = stack.enter_context(UpstreamServer(root))
        paths = [f"/{escape(hot.path)}/@v/v1.0.0.info", f"/{escape(hot.path)}/@v/v1.0.0.zip"]
        oci = registry.store_url("bench")  # type: ignore[attr-defined]

        print(
            f"cpus={os.cpu_count()}; wrk {SECONDS}s x {CONNECTIONS} connections in total; "
            f"median of {ROUNDS} alternating rounds"
        )
        results: dict[tuple[str, str, str], list[float]] = {}
        for _ in range(ROUNDS):
            for hot_cache in (True, False):
                label = "warm hits (memory)" if hot_cache else "storage hits (no memory cache)"
                with cluster(1, tmp, str(tmp / "fs"), up.url, None, hot_cache) as one:
                    for kind, rps in warm(one, paths).items():
                        results.setdefault((label, kind, "fs"), []).append(rps)
                with cluster(3, tmp, oci, up.url, redis.url, hot_cache) as three:
                    for kind, rps in warm(three, paths).items():
                        results.setdefault((label, kind, "oci"), []).append(rps)
        print(f"{'':32} {'':4} {'1 replica fs':>14} {'3 replicas oci+redis':>22} {'ratio':>6}")
        for label in ("warm hits (memory)", "storage hits (no memory cache)"):
            for kind in ("info", "zip"):
                a = statistics.median(results[(label, kind, "fs")])
                b = statistics.median(results[(label, kind, "oci")])
                print(f"{label:32} {kind:4} {a:12.0f}/s {b:20.0f}/s {b / a:6.2f}")

        up.delay = DELAY
        up.hits.clear()
        with cluster(2, tmp, registry.store_url("bench-sf"), up.url, redis.url) as (a, b):  # type: ignore[attr-defined]
            cross = single_flight_waits(a, b, up, cold[:WAITS])
            up.hits.clear()
            local = single_flight_waits(a, a, up, cold[WAITS:])

        def ms(xs: list[float]) -> str:
            xs = sorted(xs)
            return f"median {statistics.median(xs) * 1000:6.1f} ms, max {xs[-1] * 1000:6.1f} ms"

        print(
            f"single-flight wait after the holder answered ({WAITS} cold zips, upstream {DELAY}s):"
        )
        print(f"  waiter on another replica (Redis):  {ms(cross)}")
        print(f"  waiter on the same replica:         {ms(local)}")


if __name__ == "__main__":
    run()
