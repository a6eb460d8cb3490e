"""Rate limits under load: an abusive principal is held to its rate, others keep their latency.

One ``gomodproxy serve`` with authentication and ``rate_limit`` (per principal) and another
without any limit, same fixture upstream, same artifact (a warm ``.mod``). Three phases of
``BENCH_RL_SECONDS`` each, side by side in the same run:

1. baseline: the well-behaved client alone (``BENCH_RL_RPS`` requests per second, paced);
2. limited: the same client while an abusive one hammers the limited server from
   ``BENCH_RL_CONNS`` connections (wrk) with its own credentials;
3. unlimited: the same two clients against the server without limits.

Printed: the abuser's accepted (2xx) rate and its non-2xx count (429 when limited; cold
paths also answer 404), the upstream requests per second it caused, and the well-behaved
client's p50/p99 latency and errors in each phase. Run: ``python -m bench.bench_ratelimit``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.fixtures import (  # noqa: E402
    ModuleVersion,
    UpstreamServer,
    build_tree,
    start_server,
)

from bench.common import wrk_non_2xx, wrk_requests_per_sec  # noqa: E402
from gomodproxy.security.users import add_user  # noqa: E402

SECONDS = float(os.environ.get("BENCH_RL_SECONDS", "5"))
GOOD_RPS = float(os.environ.get("BENCH_RL_RPS", "20"))
CONNS = int(os.environ.get("BENCH_RL_CONNS", "16"))
LIMIT = float(os.environ.get("BENCH_RL_LIMIT", "50"))
MOD = ModuleVersion("example.com/bench", "v1.0.0", {"a.go": b"package a\n"})
PATH = "/example.com/bench/@v/v1.0.0.mod"


def _auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _good(url: str, stop: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, headers=_auth("bob", "bob-pw")) as client:
        next_at = time.perf_counter()
        while next_at < stop:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            t0 = time.perf_counter()
            r = await client.get(PATH)
            latencies.append(time.perf_counter() - t0)
            errors += r.status_code != 200
            next_at += 1.0 / GOOD_RPS
    return latencies, errors


#: wrk script: every request a different, never cached module path (each one a fetch).
_COLD_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local n = math.random(1, 1000000000) .. counter
  return wrk.format("GET", "/example.com/cold" .. n .. "/@v/list")
end
"""


def _abuser(url: str, seconds: float, script: Path | None) -> subprocess.Popen[str]:
    """wrk from CONNS connections with the abuser's credentials (a Python client cannot
    generate enough load on the same machine); with ``script``, cold paths only."""
    header = "Authorization: " + _auth("mallory", "mallory-pw")["Authorization"]
    cmd = ["wrk", "-t2", f"-c{CONNS}", f"-d{seconds:g}s", "-H", header]
    if script is not None:
        cmd += ["-s", str(script)]
    return subprocess.Popen([*cmd, url + PATH], stdout=subprocess.PIPE, text=True)


def _wrk_counts(out: str) -> tuple[int, int]:
    """(total requests, non-2xx responses) from wrk's summary."""
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return total, wrk_non_2xx(out)


async def _phase(
    url: str, abuse: bool, upstream: UpstreamServer, script: Path | None = None
) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, headers=_auth("bob", "bob-pw")) as warm:
        assert (await warm.get(PATH)).status_code == 200
    hits_before = sum(upstream.hits.values())
    bad = _abuser(url, SECONDS, script) if abuse else None
    latencies, errors = await _good(url, time.perf_counter() + SECONDS)
    ok = limited = 0
    if bad is not None:
        out, _ = await asyncio.to_thread(bad.communicate)
        total, limited = _wrk_counts(out)
        ok = total - limited
    q = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "good_errors": errors,
        "abuser_ok_per_s": ok / SECONDS,
        "abuser_429": limited,
        "upstream_per_s": (sum(upstream.hits.values()) - hits_before) / SECONDS,
    }


def _wrk_rate(url: str, header: str | None) -> float:
    """Requests per second wrk gets on the warm .mod (CONNS connections, SECONDS)."""
    cmd = ["wrk", "-t2", f"-c{CONNS}", f"-d{SECONDS:g}s"]
    if header:
        cmd += ["-H", header]
    out = subprocess.run([*cmd, url + PATH], capture_output=True, text=True, check=True).stdout
    return wrk_requests_per_sec(out)


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as tmp_s:
        tmp = Path(tmp_s)
        script = tmp / "cold.lua"
        script.write_text(_COLD_LUA)
        creds = tmp / "credentials.json"
        add_user(creds, "bob", password="bob-pw")
        add_user(creds, "mallory", password="mallory-pw")
        common = ["--set", f"auth_file={creds}"]
        limits = ["--set", f"rate_limit={LIMIT}", "--set", f"rate_limit_burst={int(LIMIT)}"]
        with UpstreamServer(build_tree(tmp / "upstream", [MOD])) as upstream:
            limited = start_server(tmp / "limited", upstream.url, args=[*common, *limits])
            unlimited = start_server(tmp / "unlimited", upstream.url, args=common)
            plain = start_server(tmp / "plain", upstream.url)
            try:
                asyncio.run(_phase(plain.url, False, upstream))  # warm the artifact
                bob = "Authorization: " + _auth("bob", "bob-pw")["Authorization"]
                overhead = (_wrk_rate(plain.url, None), _wrk_rate(unlimited.url, bob))
                rows = [
                    ("baseline (alone)", asyncio.run(_phase(limited.url, False, upstream))),
                    ("hot flood, limited", asyncio.run(_phase(limited.url, True, upstream))),
                    ("hot flood, no limit", asyncio.run(_phase(unlimited.url, True, upstream))),
                    (
                        "cold flood, limited",
                        asyncio.run(_phase(limited.url, True, upstream, script)),
                    ),
                    (
                        "cold flood, no limit",
                        asyncio.run(_phase(unlimited.url, True, upstream, script)),
                    ),
                ]
            finally:
                limited.stop()
                unlimited.stop()
                plain.stop()
    print(
        f"rate limit bench: {SECONDS:g}s per phase, limit {LIMIT:g} req/s per principal, "
        f"good client {GOOD_RPS:g} req/s (warm .mod), abuser wrk {CONNS} connections "
        "(hot: the same warm .mod; cold: a new module path per request)"
    )
    print(
        f"warm .mod, one worker: no gate {overhead[0]:.0f} req/s; gate with basic auth and "
        f"rules {overhead[1]:.0f} req/s ({overhead[1] / overhead[0] - 1:+.0%})"
    )
    print(f"{'phase':<22} {'good p50':>9} {'good p99':>9} {'good err':>8} "
          f"{'abuser ok/s':>11} {'abuser non-2xx':>14} {'upstream/s':>10}")  # fmt: skip
    for name, r in rows:
        print(
            f"{name:<22} {r['p50_ms']:>7.2f}ms {r['p99_ms']:>7.2f}ms {r['good_errors']:>8.0f} "
            f"{r['abuser_ok_per_s']:>11.1f} {r['abuser_429']:>14.0f} {r['upstream_per_s']:>10.1f}"
        )


if __name__ == "__main__":
    run()
