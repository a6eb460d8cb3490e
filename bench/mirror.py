"""Mirror throughput on a real go.sum, against fetching the same artifacts directly.

In one run, on one machine:

1. the Go replay client (``bench/replay``, as in ``bench.graph``) fetches, with ``--jobs``
   connections, exactly the files ``gomodproxy mirror`` stores for the go.sum (module lines:
   ``.info``, ``.mod``, ``.zip``; ``/go.mod`` lines: ``.info``, ``.mod``) straight from the
   upstream: the baseline (no checks, nothing written);
2. ``gomodproxy mirror --jobs N`` of the same go.sum into an empty store, through that
   upstream and the ``GOSUMDB`` of ``go env`` (zip checks, h1, checksum-database verification,
   fsynced atomic writes);
3. the same mirror again (everything stored: the cost of a resumed or repeated run);
4. ``go mod download`` of the go.sum's module lines into an empty module cache, straight from
   the upstream with the same ``GOSUMDB``: what the go command itself takes to fetch and verify
   (the ``/go.mod``-only lines are not in it: the go command cannot download those alone);
5. the baseline again, so a drift of the upstream's speed shows.

The upstream is the first proxy URL of ``go env GOPROXY`` (or ``--upstream``). Run:
``python -m bench.mirror --gosum path/to/go.sum`` (needs go and the network; never part of
``make test``). ``--json FILE`` keeps the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.fixtures import escape, server_env  # noqa: E402

from bench.graph import build_replay, first_proxy, go_env, replay, write_listing  # noqa: E402


def mirror_artifacts(gosum: str) -> list[str]:
    """The GOPROXY paths ``mirror`` stores for a go.sum, each once."""
    out: dict[str, None] = {}
    for line in gosum.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        path, version = fields[0], fields[1]
        gomod_only = version.endswith("/go.mod")
        version = version.removesuffix("/go.mod")
        for ext in ("info", "mod") if gomod_only else ("info", "mod", "zip"):
            out[f"{escape(path)}/@v/{escape(version)}.{ext}"] = None
    return list(out)


def run_mirror(
    gosum: Path, store: Path, upstream: str, jobs: int, env: dict[str, str]
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "gomodproxy", "mirror", "--json", "-j", str(jobs), str(gosum)]
    start = time.perf_counter()
    out = subprocess.run(
        [*cmd, "--storage", str(store), "--upstream", upstream],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"mirror failed ({out.returncode}):\n{out.stdout[-3000:]}{out.stderr}")
    summary = json.loads(out.stdout.splitlines()[-1])
    summary["Wall"] = wall
    return dict(summary)


def go_download(
    gosum: str, upstream: str, gosumdb: str, gonosumdb: str, work: Path
) -> tuple[float, int, int]:
    """``go mod download`` of the module lines: (wall seconds, zip bytes, failures)."""
    lines = [ln.split() for ln in gosum.splitlines()]
    targets = sorted({f"{f[0]}@{f[1]}" for f in lines if len(f) == 3 and "/" not in f[1]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(
        GOPROXY=upstream,
        GOSUMDB=gosumdb,
        GONOSUMDB=gonosumdb,
        GOMODCACHE=str(work / "gomodcache"),
        GOFLAGS="-modcacherw",
        GOENV="off",
        GOTOOLCHAIN="local",
    )
    start = time.perf_counter()
    out = subprocess.run(
        ["go", "mod", "download", "-json", *targets], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - start
    zips = list((work / "gomodcache" / "cache" / "download").rglob("*.zip"))
    failures = out.stdout.count('"Error"') + (1 if out.returncode and not zips else 0)
    return wall, sum(z.stat().st_size for z in zips), failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gosum", required=True, type=Path)
    ap.add_argument("--upstream", help="default: the first proxy of go env GOPROXY")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args(argv)
    goproxy, gosumdb, gonosumdb = go_env("GOPROXY", "GOSUMDB", "GONOSUMDB")
    upstream = args.upstream or first_proxy(goproxy)
    text = args.gosum.read_text()
    items = mirror_artifacts(text)
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
        work = Path(tmp)
        listing = write_listing(work / "list.txt", items)
        exe = build_replay(work)
        base1 = replay(exe, "direct", upstream, listing, args.jobs, work / "d1.txt")
        env = server_env({"GOSUMDB": gosumdb, "GONOSUMDB": gonosumdb})
        cold = run_mirror(args.gosum, work / "store", upstream, args.jobs, env)
        warm = run_mirror(args.gosum, work / "store", upstream, args.jobs, env)
        gocmd = go_download(text, upstream, gosumdb, gonosumdb, work)
        base2 = replay(exe, "direct", upstream, listing, args.jobs, work / "d2.txt")
        stored = sum(p.stat().st_size for p in (work / "store").rglob("*") if p.is_file())
    mib = base1.bytes / (1 << 20)
    rows = [
        ("direct (before)", base1.wall_seconds, base1.bytes, base1.failures),
        ("mirror, empty store", cold["Wall"], cold["FetchedBytes"], len(cold["Failures"])),
        ("mirror, all stored", warm["Wall"], 0, len(warm["Failures"])),
        ("go mod download", gocmd[0], gocmd[1], gocmd[2]),
        ("direct (after)", base2.wall_seconds, base2.bytes, base2.failures),
    ]
    print(
        f"go.sum: {args.gosum.name}: {len(items)} artifacts, {mib:.1f} MiB; "
        f"{args.jobs} connections; stored {stored / (1 << 20):.1f} MiB with checksum data"
    )
    best = min(base1.wall_seconds, base2.wall_seconds)
    print(f"{'pass':<22}{'wall s':>8}{'x direct':>10}{'MiB/s':>8}{'fail':>6}")
    for name, wall, size, fail in rows:
        rate = size / (1 << 20) / wall if wall > 0 and size else 0.0
        print(f"{name:<22}{wall:>8.2f}{wall / best:>10.2f}{rate:>8.1f}{fail:>6}")
    print(
        f"mirror: {cold['Done']} versions ({cold['Fetched']} fetched); "
        f"again: {warm['Fetched']} fetched, {warm['AlreadyStored']} already stored"
    )
    if args.json:
        doc = {
            "artifacts": len(items),
            "bytes": base1.bytes,
            "direct": [base1.wall_seconds, base2.wall_seconds],
            "mirror_cold": cold,
            "mirror_again": warm,
            "go_mod_download": gocmd[0],
            "connections": args.jobs,
        }
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    failed = base1.failures or cold["Failures"] or warm["Fetched"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
