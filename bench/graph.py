"""A real project's whole module graph: the upstream directly, gomodproxy cold and warm, nginx.

Every entry of a go.sum becomes the artifacts the go command fetches for it (``/go.mod``
lines: the ``.mod``; module lines: the ``.info`` and the ``.zip``). A Go replay client
(``bench/replay``, built here with the machine's go) fetches that list with 8 connections, as
the go command does, and with 64; in one run, on one machine:

1. the upstream directly (the ``GOPROXY`` that ``go env`` reports, or ``--upstream``);
2. gomodproxy with an empty storage directory, that upstream and the ``GOSUMDB`` of ``go
   env`` (verify-on-ingest): the cold fill;
3. warm passes, ``--rounds`` times at each connection count, alternating between: the same
   gomodproxy; nginx serving gomodproxy's own storage directory (sendfile, ``try_files``: the
   baseline); granian alone with gomodproxy's server options and a one-dict-lookup app
   (``bench.floor``: the floor any app on this HTTP server reaches); and nginx configured by
   ``gomodproxy nginx-config`` in front of that gomodproxy (stored artifacts from the files).

It reports wall times, ratios to the same-run baselines, p50/p99 latency, bytes, failures,
the bodies' agreement with the upstream's (CRC-32C of every body), upstream retries (from
``/metrics``) and each gomodproxy process's peak RSS after the cold fill and after the warm
passes. ``--json`` also writes the numbers to a file.

Run: ``python -m bench.graph --gosum path/to/go.sum``. It uses the network (never part of
``make test``). The README quotes a run on the go.sum of a large public project.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.fixtures import Server, escape, free_port, start_server  # noqa: E402
from tests.e2e.nginx_front import generate_front_config  # noqa: E402

from bench.bench_server import Nginx  # noqa: E402

REPLAY_SRC = REPO / "bench" / "replay"


@dataclass
class Pass:
    """One replay of the artifact list (the replay client's summary)."""

    name: str
    connections: int
    requests: int
    failures: int
    bytes: int
    wall_seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: list[str]


def artifacts(gosum: str) -> list[str]:
    """The GOPROXY paths the go command fetches for the entries of a go.sum, in its order.

    Raises:
        ValueError: a line is not ``<path> <version>[/go.mod] <hash>``.
    """
    out: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(gosum.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise ValueError(f"go.sum line {n}: expected 3 fields, got {line!r}")
        path, version, _ = fields
        if version.endswith("/go.mod"):
            wanted = [("mod", version.removesuffix("/go.mod"))]
        else:
            wanted = [("info", version), ("zip", version)]
        for ext, v in wanted:
            item = f"{escape(path)}/@v/{escape(v)}.{ext}"
            if item not in seen:
                seen.add(item)
                out.append(item)
    return out


def go_env(*names: str) -> list[str]:
    out = subprocess.run(["go", "env", *names], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def gosum_workload(args: argparse.Namespace) -> tuple[list[str], str, dict[str, str]]:
    """From ``--gosum``, ``--limit``, ``--upstream`` and ``--gosumdb`` (else ``go env``): the
    artifacts to replay, gomodproxy's upstream and its checksum database environment."""
    items = artifacts(args.gosum.read_text())
    if args.limit:
        items = items[: args.limit]
    goproxy, gosumdb, gonosumdb, goprivate = go_env("GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE")
    env = {"GOSUMDB": args.gosumdb or gosumdb, "GONOSUMDB": gonosumdb, "GOPRIVATE": goprivate}
    return items, args.upstream or goproxy, env


def write_listing(path: Path, items: list[str]) -> Path:
    """The replay tool's input at ``path``: one artifact a line."""
    path.write_text("\n".join(items) + "\n")
    return path


def first_proxy(goproxy: str) -> str:
    """The first URL entry of a GOPROXY list (the one the go command asks first)."""
    for entry in re.split(r"[,|]", goproxy):
        if entry.startswith(("http://", "https://")):
            return entry.rstrip("/")
    raise SystemExit(f"GOPROXY {goproxy!r} has no proxy URL to measure against")


def build_replay(work: Path) -> Path:
    exe = work / "replay"
    subprocess.run(
        ["go", "build", "-o", str(exe), "."],
        cwd=REPLAY_SRC,
        check=True,
        env={**os.environ, "GOFLAGS": "-mod=mod", "GOWORK": "off"},
    )
    return exe


WARM = "gomodproxy warm"
NGINX = "nginx on its store"
FLOOR = "floor: granian alone"
FRONT = "front: nginx-config"


class Proc:
    """A server started in its own process group (so its CPU time can be read)."""

    def __init__(self, cmd: list[str], url: str, log: Path, **kw: Any) -> None:
        self.url = url
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw
            )

    def wait_until_up(self, probe: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.url}: exited {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url + probe, timeout=2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.url}: did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(15)


def start_floor(storage: Path, log: Path) -> Proc:
    """granian alone (``bench.floor``) answering the store's artifacts from a table."""
    url_port = free_port()
    cmd = [sys.executable, "-m", "bench.floor", str(storage), f"127.0.0.1:{url_port}"]
    floor = Proc(cmd, f"http://127.0.0.1:{url_port}", log, cwd=REPO)
    some = next(storage.rglob("*/@v/*.mod"))
    floor.wait_until_up("/" + str(some.relative_to(storage)))
    return floor


def start_front(work: Path, storage: Path, gomodproxy: str) -> Proc:
    """nginx with the configuration ``gomodproxy nginx-config`` writes, in front of the
    running gomodproxy: stored artifacts from the files, the rest passed on."""
    text, port = generate_front_config(
        work, storage, int(gomodproxy.rsplit(":", 1)[1]), workers=os.cpu_count() or 1
    )
    (work / "nginx.conf").write_text(text)
    (work / "tmp").mkdir(exist_ok=True)
    cmd = ["nginx", "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"]
    front = Proc(cmd, f"http://127.0.0.1:{port}", work / "nginx.out")
    front.wait_until_up("/healthz")
    return front


def replay(exe: Path, name: str, base: str, listing: Path, conns: int, digests: Path) -> Pass:
    out = subprocess.run(
        [
            str(exe),
            "-base",
            base,
            "-list",
            str(listing),
            "-c",
            str(conns),
            "-digests",
            str(digests),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Pass(name=name, connections=conns, **json.loads(out))


def compare(reference: Path, other: Path) -> list[str]:
    """Paths whose status, length or CRC differ between two replays."""
    ref = {line.split()[0]: line for line in reference.read_text().splitlines()}
    return [
        line.split()[0]
        for line in other.read_text().splitlines()
        if ref.get(line.split()[0]) != line
    ]


def group_pids(leader: int) -> list[int]:
    """The processes of ``leader``'s process group (gomodproxy's server and workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # pgrp
            pids.append(int(entry.name))
    return sorted(pids)


def cpu_seconds(leader: int) -> float:
    """User + system CPU time used so far by the processes of ``leader``'s group (their
    children that exited included): a cost that noise from other processes hardly moves."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in group_pids(leader):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def peak_rss_mib(leader: int) -> dict[int, float]:
    """Peak resident set size (VmHWM) of each process in the group, MiB."""
    peaks = {}
    for pid in group_pids(leader):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        m = re.search(r"VmHWM:\s+(\d+) kB", status)
        if m:
            peaks[pid] = int(m.group(1)) / 1024
    return peaks


def metric_sum(server: Server, name: str) -> float:
    """The sum of a metric's samples over all label sets (0 when it is not exported)."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def table(rows: list[Pass], baseline: dict[int, Pass]) -> str:
    head = (
        f"{'pass':<36}{'conns':>6}{'wall s':>9}{'x base':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'MiB':>8}{'fail':>6}"
    )
    lines = [head]
    for p in rows:
        base = baseline.get(p.connections)
        ratio = p.wall_seconds / base.wall_seconds if base and base is not p else float("nan")
        lines.append(
            f"{p.name:<36}{p.connections:>6}{p.wall_seconds:>9.3f}{ratio:>8.2f}"
            f"{p.p50_ms:>9.2f}{p.p99_ms:>9.2f}{p.bytes / 2**20:>8.1f}{p.failures:>6}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.graph", description=__doc__.split("\n")[0])
    ap.add_argument("--gosum", required=True, type=Path, help="the go.sum of the project")
    ap.add_argument("--upstream", help="GOPROXY for gomodproxy (default: go env GOPROXY)")
    ap.add_argument("--gosumdb", help="GOSUMDB for gomodproxy (default: go env GOSUMDB)")
    ap.add_argument("--rounds", type=int, default=3, help="warm rounds per connection count")
    ap.add_argument("--connections", default="8,64", help="connection counts of warm passes")
    ap.add_argument("--limit", type=int, default=0, help="only the first N artifacts")
    ap.add_argument("--set", action="append", default=[], help="gomodproxy setting NAME=VALUE")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--keep", type=Path, help="keep the work directory here")
    ap.add_argument(
        "--server-src",
        type=Path,
        help="run gomodproxy from this src/ directory (a checkout of another commit), so two "
        "commits can be measured back to back with the same harness",
    )
    args = ap.parse_args(argv)
    if shutil.which("nginx") is None:
        raise SystemExit("bench.graph needs nginx (tools/sysdeps.sh installs it)")

    items, upstream, env = gosum_workload(args)
    if args.server_src:
        env["PYTHONPATH"] = str(args.server_src.resolve())
    direct_url = first_proxy(upstream)
    conns = [int(c) for c in args.connections.split(",")]
    counts = {ext: sum(1 for i in items if i.endswith("." + ext)) for ext in ("info", "mod", "zip")}

    with ExitStack() as stack:
        if args.keep:
            work = args.keep
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-graph-")))
        work.chmod(0o755)  # nginx workers may run as another user
        listing = write_listing(work / "artifacts.txt", items)
        exe = build_replay(work)

        passes: list[Pass] = []
        direct = replay(exe, "upstream directly", direct_url, listing, 8, work / "d-direct")
        passes.append(direct)

        storage = work / "data"
        settings = [a for s in args.set for a in ("--set", s)]
        server = start_server(storage, upstream, workers=0, args=settings, env=env, timeout=60)
        stack.callback(server.stop)
        t0, cpu0 = time.perf_counter(), cpu_seconds(server.proc.pid)
        cold = replay(exe, "gomodproxy cold fill", server.url, listing, 8, work / "d-cold")
        cold_wall = time.perf_counter() - t0
        cold_cpu = cpu_seconds(server.proc.pid) - cpu0
        passes.append(cold)
        mismatched = compare(work / "d-direct", work / "d-cold")
        largest_zip = max(
            (
                (int(f[2]), f[0])
                for f in (line.split() for line in (work / "d-direct").read_text().splitlines())
                if f[0].endswith(".zip")
            ),
            default=(0, ""),
        )
        rss_cold = peak_rss_mib(server.proc.pid)
        retries = metric_sum(server, "gomodproxy_upstream_retries_total")
        upstream_calls = metric_sum(server, "gomodproxy_upstream_requests_total")

        nginx = Nginx(storage, work / "nginx", free_port())
        stack.callback(nginx.stop)
        floor = start_floor(storage, work / "floor.log")
        stack.callback(floor.stop)
        front = start_front(work / "front", storage, server.url)
        stack.callback(front.stop)
        targets = {
            WARM: (server.url, server.proc.pid),
            NGINX: (nginx.url, nginx.proc.pid),
            FLOOR: (floor.url, floor.proc.pid),
            FRONT: (front.url, front.proc.pid),
        }
        warm: dict[tuple[str, int], list[Pass]] = {}
        warm_cpu = dict.fromkeys(targets, 0.0)
        for c in conns:
            for _ in range(args.rounds):
                for name, (base, leader) in targets.items():
                    cpu0 = cpu_seconds(leader)
                    p = replay(exe, name, base, listing, c, work / f"d-{name[:5]}-{c}")
                    warm_cpu[name] += cpu_seconds(leader) - cpu0
                    warm.setdefault((name, c), []).append(p)
            mismatched += compare(work / "d-direct", work / f"d-gomod-{c}")
            mismatched += compare(work / "d-direct", work / f"d-{FRONT[:5]}-{c}")
        rss_warm = peak_rss_mib(server.proc.pid)

    def median(ps: list[Pass]) -> Pass:
        mid = sorted(ps, key=lambda p: p.wall_seconds)[len(ps) // 2]
        return Pass(
            **{
                **asdict(mid),
                "name": f"{mid.name} (median of {len(ps)})",
                "p50_ms": statistics.median(p.p50_ms for p in ps),
                "p99_ms": statistics.median(p.p99_ms for p in ps),
                "failures": sum(p.failures for p in ps),
            }
        )

    warm_median = {key: median(ps) for key, ps in warm.items()}
    print(
        f"{len(items)} artifacts ({counts['mod']} .mod, {counts['info']} .info, "
        f"{counts['zip']} .zip), {direct.bytes / 2**20:.1f} MiB; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f} at the end"
    )
    print(table([direct, cold], {8: direct}))
    print(
        f"cold fill: {cold.wall_seconds / direct.wall_seconds:.2f}x the upstream directly; "
        f"gomodproxy used {cold_cpu:.1f} CPU s"
    )
    for c in conns:
        theirs = warm_median[(NGINX, c)]
        print(table([theirs, *(warm_median[(n, c)] for n in (WARM, FLOOR, FRONT))], {c: theirs}))
    passes_run = len(conns) * args.rounds
    print(
        "CPU s per warm pass: "
        + ", ".join(f"{name} {warm_cpu[name] / passes_run:.2f}" for name in targets)
    )
    print(
        f"bodies differing from the upstream's: {len(mismatched)}"
        + (f" (first: {mismatched[0]})" if mismatched else "")
    )
    print(
        f"upstream requests: {upstream_calls:.0f}, retries: {retries:.0f} "
        f"({retries / upstream_calls if upstream_calls else 0:.2%})"
    )
    print(f"largest zip: {largest_zip[0] / 2**20:.1f} MiB ({largest_zip[1]})")
    print("peak RSS MiB per process after the cold fill: " + _rss(rss_cold))
    print("peak RSS MiB per process after the warm passes: " + _rss(rss_warm))
    if args.json:
        doc: dict[str, Any] = {
            "artifacts": len(items),
            "counts": counts,
            "cpus": os.cpu_count(),
            "direct": asdict(direct),
            "cold": asdict(cold),
            "cold_wall_client_seconds": cold_wall,
            "cold_cpu_seconds": cold_cpu,
            "warm_cpu_seconds": warm_cpu,
            "warm": {f"{k[0]} c={k[1]}": [asdict(p) for p in v] for k, v in warm.items()},
            "mismatched": mismatched,
            "retries": retries,
            "upstream_requests": upstream_calls,
            "largest_zip": largest_zip,
            "rss_cold_mib": rss_cold,
            "rss_warm_mib": rss_warm,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    failed = cold.failures + sum(p.failures for ps in warm.values() for p in ps)
    return 1 if failed or mismatched else 0


def _rss(peaks: dict[int, float]) -> str:
    return ", ".join(f"{mib:.0f}" for mib in peaks.values()) or "n/a"


if __name__ == "__main__":
    raise SystemExit(main())
