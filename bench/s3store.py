"""A real module graph through gomodproxy on S3 (a local MinIO) against the filesystem store.

The artifact list of a go.sum (as ``bench.graph`` builds it) is replayed by the Go replay
client with 8 connections, as the go command fetches, in one run, on one machine:

1. from the upstream directly (the first proxy of ``go env GOPROXY``, or ``--upstream``): the
   baseline of the cold passes;
2. for each store (filesystem, S3) and each hot-cache setting (on: the default in-memory
   cache; off: ``hot_cache_bytes=0``, every hit reads storage), a fresh gomodproxy on an
   empty store: one cold pass (fetch, verify, store), then ``--rounds`` warm passes (the
   median is reported). The four set-ups run one after the other in that order, so a drift of
   the upstream's speed shows in the cold column; the warm columns involve no upstream.

Reported per set-up: wall time, ratio to its baseline (cold: the upstream directly; warm: the
filesystem store with the same hot-cache setting), p50/p99 latency, failures, and the bodies'
agreement with the upstream's (CRC-32C of every body, as ``bench.graph``).

MinIO comes from tools/minio.sh (built and cached on first use). Run:
``python -m bench.s3store --gosum path/to/go.sum``. It uses the network (never part of
``make test``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.fixtures import start_server  # noqa: E402
from tests.e2e.servers import MinioServer, running  # noqa: E402

from bench.graph import (  # noqa: E402
    Pass,
    build_replay,
    compare,
    first_proxy,
    gosum_workload,
    replay,
    write_listing,
)

BUCKET = "bench"


def minio_path() -> str:
    out = subprocess.run(
        ["bash", str(REPO / "tools" / "minio.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def median(passes: list[Pass]) -> Pass:
    return sorted(passes, key=lambda p: p.wall_seconds)[len(passes) // 2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.s3store", description=__doc__.split("\n")[0])
    ap.add_argument("--gosum", required=True, type=Path, help="the go.sum of the project")
    ap.add_argument("--upstream", help="GOPROXY for gomodproxy (default: go env GOPROXY)")
    ap.add_argument("--gosumdb", help="GOSUMDB for gomodproxy (default: go env GOSUMDB)")
    ap.add_argument("--rounds", type=int, default=3, help="warm passes per set-up")
    ap.add_argument("--connections", type=int, default=8, help="replay connections")
    ap.add_argument("--limit", type=int, default=0, help="only the first N artifacts")
    args = ap.parse_args(argv)

    items, upstream, env = gosum_workload(args)
    c = args.connections
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-s3-")))
        listing = write_listing(work / "artifacts.txt", items)
        exe = build_replay(work)
        minio = stack.enter_context(running(MinioServer(work / "minio", minio_path())))
        assert isinstance(minio, MinioServer)
        minio.make_bucket(BUCKET)
        direct = replay(exe, "upstream directly", first_proxy(upstream), listing, c, work / "d")
        results: dict[tuple[str, bool], tuple[Pass, Pass]] = {}
        mismatched: list[str] = []
        for hot in (True, False):
            for kind in ("filesystem", "s3"):
                name = f"{kind}-{'hot' if hot else 'nohot'}"
                if kind == "s3":
                    storage = minio.store_url(BUCKET, name, credentials=False)
                    server_env = {**env, **minio.env()}
                else:
                    storage, server_env = str(work / name), env
                flags = ["--set", "access_log=false"]
                if not hot:
                    flags += ["--set", "hot_cache_bytes=0"]
                server = start_server(
                    storage,
                    upstream,
                    workers=0,
                    args=flags,
                    env=server_env,
                    log_path=work / f"{name}.log",
                    timeout=60,
                )
                try:
                    cold = replay(exe, f"{name} cold", server.url, listing, c, work / f"d-{name}")
                    mismatched += compare(work / "d", work / f"d-{name}")
                    warm = median(
                        [
                            replay(exe, f"{name} warm", server.url, listing, c, work / "d-w")
                            for _ in range(args.rounds)
                        ]
                    )
                    mismatched += compare(work / "d", work / "d-w")
                finally:
                    server.stop()
                results[(kind, hot)] = (cold, warm)

    zips = sum(1 for i in items if i.endswith(".zip"))
    print(
        f"{len(items)} artifacts ({zips} zips), {direct.bytes / 2**20:.1f} MiB, {c} connections; "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at the end; warm: median "
        f"of {args.rounds}"
    )
    print(f"upstream directly: {direct.wall_seconds:.3f} s, failures {direct.failures}")
    print(
        f"{'store':<11}{'hot cache':<10}{'cold s':>8}{'x up':>7}{'p50':>8}{'p99':>9}"
        f"{'warm s':>9}{'x fs':>6}{'p50':>8}{'p99':>8}{'fail':>6}"
    )
    for hot in (True, False):
        fs_warm = results[("filesystem", hot)][1]
        for kind in ("filesystem", "s3"):
            cold, warm = results[(kind, hot)]
            print(
                f"{kind:<11}{'on' if hot else 'off':<10}{cold.wall_seconds:>8.2f}"
                f"{cold.wall_seconds / direct.wall_seconds:>7.2f}{cold.p50_ms:>8.1f}"
                f"{cold.p99_ms:>9.1f}{warm.wall_seconds:>9.3f}"
                f"{warm.wall_seconds / fs_warm.wall_seconds:>6.2f}{warm.p50_ms:>8.2f}"
                f"{warm.p99_ms:>8.2f}{cold.failures + warm.failures:>6}"
            )
    print(
        f"bodies differing from the upstream's: {len(mismatched)}"
        + (f" (first: {mismatched[0]})" if mismatched else "")
    )
    failed = sum(a.failures + b.failures for a, b in results.values())
    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
