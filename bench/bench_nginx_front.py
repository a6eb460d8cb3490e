"""Request rate of the nginx front (``gomodproxy nginx-config``) against plain nginx serving
the same files.

Setup, in one run on one machine: a module version with a 1 MiB zip is fetched once through
``gomodproxy serve`` into an empty filesystem storage. Then ``wrk`` hits its ``.info`` and
``.zip``

- on nginx with the generated front configuration (gomodproxy behind it; stored artifacts are
  answered by nginx from the storage directory through the regex locations and ``try_files``),
- on a plain static nginx whose root is the same directory (the baseline),

with the same number of nginx workers. Rounds alternate between the two; the median is
reported with the ratio to plain nginx. For context, the same for a mutable path
(``@v/list``), which the front passes to gomodproxy, against gomodproxy without nginx.

Run: ``python -m bench.bench_nginx_front``. Needs ``wrk`` and ``nginx``.
Knobs: ``BENCH_ROUNDS`` (3), ``BENCH_SECONDS`` (5), ``BENCH_CONNECTIONS`` (64).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.fixtures import ModuleVersion, build_tree, start_server  # noqa: E402
from tests.e2e.nginx_front import Nginx, generate_front_config, plain_config  # noqa: E402

from bench.common import wrk_requests_per_sec, wrk_threads  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
MOD = "example.com/bench/front"
BASE = "/example.com/bench/front/@v/"


def wrk_rps(url: str) -> float:
    out = subprocess.run(
        ["wrk", "-t", wrk_threads(), "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    return wrk_requests_per_sec(out)


def run() -> dict[str, dict[str, float]]:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            print(f"skipped: {tool} is not installed")
            return {}
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-nginx-front-") as tmp:
        base = Path(tmp)
        rng = random.Random(9)
        blob = bytes(rng.getrandbits(8) for _ in range(1 << 20))  # incompressible 1 MiB
        upstream = build_tree(
            base / "upstream",
            [ModuleVersion(MOD, "v1.0.0", {"blob.bin": blob, "f.go": b"package front\n"})],
        )
        server = start_server(base / "data", upstream.as_uri(), workers=workers)
        front = plain = None
        try:
            for suffix in ("v1.0.0.info", "v1.0.0.mod", "v1.0.0.zip", "list"):
                status, _, _ = server.get(BASE + suffix)
                assert status == 200, suffix
            port = int(server.url.rsplit(":", 1)[1])
            text, fport = generate_front_config(
                base / "front", base / "data", port, workers=workers
            )
            front = Nginx(base / "front", text, fport)
            front.start()
            ptext, pport = plain_config(base / "plain", base / "data", workers=workers)
            plain = Nginx(base / "plain", ptext, pport)
            plain.start()
            results: dict[str, dict[str, list[float]]] = {}
            for _ in range(ROUNDS):
                for artifact in ("v1.0.0.info", "v1.0.0.zip"):
                    for name, srv in (("front", front), ("plain", plain)):
                        rate = wrk_rps(srv.url + BASE + artifact)
                        results.setdefault(artifact, {}).setdefault(name, []).append(rate)
                for name, url in (("front", front.url), ("plain", server.url)):
                    rate = wrk_rps(url + BASE + "list")
                    results.setdefault("list", {}).setdefault(name, []).append(rate)
        finally:
            for n in (front, plain):
                if n is not None:
                    n.stop()
            server.stop()
    medians = {a: {k: statistics.median(v) for k, v in r.items()} for a, r in results.items()}
    print(
        f"nginx front vs plain nginx on the same storage directory; {workers} nginx worker(s), "
        f"wrk {CONNECTIONS} connections, median of {ROUNDS} x {SECONDS}s rounds, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'path':<14}{'front req/s':>14}{'baseline req/s':>16}{'ratio':>8}  baseline")
    for artifact, r in medians.items():
        baseline = "gomodproxy direct" if artifact == "list" else "plain nginx"
        label = "@v/list" if artifact == "list" else "." + artifact.rsplit(".", 1)[-1]
        print(
            f"{label:<14}{r['front']:>14.0f}{r['plain']:>16.0f}"
            f"{r['front'] / r['plain']:>8.2f}  {baseline}"
        )
    return medians


if __name__ == "__main__":
    run()
