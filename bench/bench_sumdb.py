"""Checksum database: the latency verify-on-ingest adds to a cold fetch, and a warm lookup.

Setup: a real checksum database (golang.org/x/mod/sumdb, tools/sumdbtest) on loopback holding
RECORDS records, and a ``file://`` upstream holding the module. Baseline and subject run in the
same process, same round, on the same data:

- cold fetch: ``ProxyService`` fetching ``.mod`` + ``.zip`` into an empty store, without a
  verifier (baseline) and with ``SumdbVerifier`` (tiles and lookup fetched, authenticated,
  cached) — the difference is what verification adds;
- warm lookup: verifying a version already verified (lookup and tiles in storage), and a new
  version when the tiles are cached (one lookup request).

Loopback has no network latency: against a remote database each request costs a round trip,
so the number of database requests per case is printed too.

Run: ``python -m bench`` (all) or ``python -m bench.bench_sumdb``.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.fixtures import ModuleVersion, write_module  # noqa: E402

from gomodproxy.checksumdb.database import SumdbDatabase  # noqa: E402
from gomodproxy.checksumdb.remote import SumdbRemote  # noqa: E402
from gomodproxy.checksumdb.verify import SumdbVerifier  # noqa: E402
from gomodproxy.gomod.dirhash import gomod_hash  # noqa: E402
from gomodproxy.gomod.sumdbenv import parse_gosumdb  # noqa: E402
from gomodproxy.localfs.zipfiles import hash_zip  # noqa: E402
from gomodproxy.service.proxy import ProxyService, Trace  # noqa: E402
from gomodproxy.sources.proxy import FileProxySource  # noqa: E402
from gomodproxy.storage.memory import MemoryStore  # noqa: E402
from gomodproxy.sumdb import note  # noqa: E402

RECORDS = int(os.environ.get("BENCH_SUMDB_RECORDS", "20000"))
ROUNDS = int(os.environ.get("BENCH_SUMDB_ROUNDS", "7"))
SKEY, VKEY = note.generate_key("sum.bench.example", bytes(range(32)))
MODULES = [
    ModuleVersion(f"example.com/m{i}", "v1.0.0", {"m.go": b"package m\n" + b"// pad\n" * 2000})
    for i in range(ROUNDS + 1)
]
BIG_MIB = int(os.environ.get("BENCH_SUMDB_BIG_MIB", "32"))
#: Large zips from a throttled upstream, for the first-byte gain of streaming .
BIG = [
    ModuleVersion(
        f"example.com/big{i}", "v1.0.0", {"b.bin": random.Random(i).randbytes(BIG_MIB << 20)}
    )
    for i in range(2 * ROUNDS)
]


class ThrottledSource(FileProxySource):
    """A file:// upstream delivering zips at about 100 MiB/s, 1 MiB at a time."""

    async def zip(self, path: str, version: str, dest: Path) -> None:
        src = self._file(f"{path}/@v/{version}.zip")
        with src.open("rb") as fin, dest.open("wb") as fout:
            while chunk := fin.read(1 << 20):
                fout.write(chunk)
                fout.flush()
                await asyncio.sleep(0.01)


class CountingRemote(SumdbRemote):
    requests = 0

    async def fetch(self, endpoint: str):  # type: ignore[no-untyped-def]
        CountingRemote.requests += 1
        return await super().fetch(endpoint)


def _records(tmp: Path) -> Path:
    out = tmp / "records.txt"
    with out.open("w") as fh:
        for mv in MODULES + BIG:
            z = tmp / "z.zip"
            z.write_bytes(mv.zip_bytes())
            fh.write(f"{mv.path} {mv.version} {hash_zip(z)}\n")
            fh.write(f"{mv.path} {mv.version}/go.mod {gomod_hash(mv.gomod)}\n")
        for i in range(RECORDS - len(MODULES)):
            h = gomod_hash(str(i).encode())
            fh.write(f"example.org/f{i} v1.0.0 {h}\nexample.org/f{i} v1.0.0/go.mod {h}\n")
    return out


async def _cold(upstream: Path, url: str | None, mv: ModuleVersion, tmp: Path) -> float:
    store = MemoryStore()
    verifier = None
    if url is not None:
        spec = parse_gosumdb(f"{VKEY} {url}")
        assert spec is not None
        db = SumdbDatabase(CountingRemote(spec), store, key=spec.key)
        verifier = SumdbVerifier(db)
    service = ProxyService(store, FileProxySource(upstream), verifier=verifier, temp_dir=tmp)
    start = time.perf_counter()
    await service.immutable("mod", mv.path, mv.version, Trace())
    await service.immutable("zip", mv.path, mv.version, Trace())
    elapsed = time.perf_counter() - start
    await service.aclose()
    return elapsed


async def _first_byte(upstream: Path, url: str, mv: ModuleVersion, tmp: Path, live: bool) -> float:
    """Seconds until a client of a cold zip could send its first byte."""
    spec = parse_gosumdb(f"{VKEY} {url}")
    assert spec is not None
    store = MemoryStore()
    verifier = SumdbVerifier(SumdbDatabase(SumdbRemote(spec), store, key=spec.key))
    service = ProxyService(store, ThrottledSource(upstream), verifier=verifier, temp_dir=tmp)
    start = time.perf_counter()
    art = await service.immutable("zip", mv.path, mv.version, Trace(), live=live)
    assert art.store is not None or art.data is not None
    if art.data is None:
        assert art.store is not None
        async for _ in art.store.stream(art.key, 0, art.size):
            break
    elapsed = time.perf_counter() - start
    await asyncio.sleep(0.5 if live else 0)  # let the background fetch finish
    await service.aclose()
    return elapsed


async def _warm(url: str) -> tuple[list[float], list[float], int, int]:
    spec = parse_gosumdb(f"{VKEY} {url}")
    assert spec is not None
    store = MemoryStore()
    db = SumdbDatabase(CountingRemote(spec), store, key=spec.key)
    verifier = SumdbVerifier(db)
    first = MODULES[0]
    z = first.zip_bytes()
    tmpzip = Path(tempfile.mkdtemp()) / "z.zip"
    tmpzip.write_bytes(z)
    h1 = hash_zip(tmpzip)
    await verifier.verify_zip(first.path, first.version, h1)
    same, new = [], []
    before = CountingRemote.requests
    for _ in range(ROUNDS * 20):
        t = time.perf_counter()
        await verifier.verify_zip(first.path, first.version, h1)
        same.append(time.perf_counter() - t)
    same_requests = CountingRemote.requests - before
    before = CountingRemote.requests
    for mv in MODULES[1:]:
        t = time.perf_counter()
        await db.lookup(mv.path, mv.version)
        new.append(time.perf_counter() - t)
    new_requests = (CountingRemote.requests - before) // max(1, len(MODULES) - 1)
    shutil.rmtree(tmpzip.parent)
    await verifier.aclose()
    return same, new, same_requests, new_requests


def run() -> None:
    if shutil.which("go") is None:
        print("skipped: needs go (for the test checksum database)")
        return
    binary = subprocess.run(
        ["bash", str(REPO_ROOT / "tools" / "build-sumdbtest.sh")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-sumdb-") as d:
        tmp = Path(d)
        upstream = tmp / "upstream"
        for mv in MODULES + BIG:
            write_module(upstream, mv)
        proc = subprocess.Popen(
            [binary, "-key", SKEY, "-gosum", str(_records(tmp))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            base, verified, requests = [], [], []
            for r in range(ROUNDS):
                mv = MODULES[r]
                base.append(asyncio.run(_cold(upstream, None, mv, tmp)))
                before = CountingRemote.requests
                verified.append(asyncio.run(_cold(upstream, url, mv, tmp)))
                requests.append(CountingRemote.requests - before)
            same, new, same_req, new_req = asyncio.run(_warm(url))
            whole, streamed = [], []
            for r in range(ROUNDS):
                whole.append(asyncio.run(_first_byte(upstream, url, BIG[2 * r], tmp, False)))
                streamed.append(asyncio.run(_first_byte(upstream, url, BIG[2 * r + 1], tmp, True)))
        finally:
            proc.kill()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
    med = statistics.median
    ms = 1000.0
    print(f"checksum database of {RECORDS} records on loopback; median of {ROUNDS} rounds")
    print(
        f"cold .mod+.zip fetch   no verifier {med(base) * ms:7.2f} ms   "
        f"verified {med(verified) * ms:7.2f} ms   "
        f"added {(med(verified) - med(base)) * ms:7.2f} ms   "
        f"({med(requests):.0f} database requests, .mod and .zip share one lookup)"
    )
    print(
        f"cold {BIG_MIB} MiB zip at ~100 MiB/s, first byte: whole-then-serve "
        f"{med(whole) * ms:7.1f} ms   streamed {med(streamed) * ms:7.1f} ms   "
        f"gain {med(whole) / med(streamed):5.1f}x"
    )
    print(
        f"warm lookup            same version {med(same) * 1e6:7.1f} µs ({same_req} requests)   "
        f"new version, tiles cached {med(new) * ms:6.2f} ms ({new_req} request(s) each)"
    )


if __name__ == "__main__":
    run()
