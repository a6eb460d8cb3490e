"""Copy every key of one store into another, verifying each copy by its SHA-256.

For each key the source bytes are hashed while spooled to a temp file (never whole in
memory), a module zip is checked against the ``h1:`` recorded beside it in ``.ziphash``, the
value is written with the destination's atomic ``put_file``, and the destination's bytes are
read back and hashed again. A key the destination already holds with the same hash is
skipped, so an interrupted migration can simply be run again.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gomodproxy.errors import GoModProxyError, NotFound
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.ports.keys import ziphash_key
from gomodproxy.ports.storage import BlobStore


@dataclass
class MigrateReport:
    """What a migration did."""

    copied: int = 0
    skipped: int = 0
    bytes: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


async def _sha256_of(store: BlobStore, key: str, sink: Path | None = None) -> tuple[str, int]:
    """Hash a stored value while streaming it (into ``sink`` when given)."""
    h = hashlib.sha256()
    size = 0
    f = open(sink, "wb") if sink is not None else None  # noqa: SIM115 - closed below
    try:
        async for chunk in store.stream(key):
            h.update(chunk)
            size += len(chunk)
            if f is not None:
                await asyncio.to_thread(f.write, chunk)
    finally:
        if f is not None:
            f.close()
    return h.hexdigest(), size


async def copy_key(src: BlobStore, dst: BlobStore, key: str, work: Path) -> bool:
    """Copy one key; False when the destination already had it. Raises on any mismatch."""
    tmp = work / f"copy-{hashlib.sha256(key.encode()).hexdigest()[:24]}"
    try:
        try:
            digest, size = await _sha256_of(src, key, tmp)
        except NotFound:
            raise NotFound("vanished from the source") from None
        have = await dst.stat(key)
        if have is not None and have.size == size and (await _sha256_of(dst, key))[0] == digest:
            return False
        if key.endswith(".zip"):
            recorded = await src.get(ziphash_key(key))
            if recorded is not None:
                h1 = await asyncio.to_thread(hash_zip, tmp)
                if h1 != recorded.decode("ascii", "replace").strip():
                    raise GoModProxyError(f"zip hash {h1} differs from the recorded one")
        await dst.put_file(key, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    if (await _sha256_of(dst, key))[0] != digest:
        raise GoModProxyError("the copy's SHA-256 differs from the source's")
    return True


async def migrate(
    src: BlobStore,
    dst: BlobStore,
    *,
    prefix: str = "",
    jobs: int = 4,
    on_total: Callable[[int, int], None] = lambda keys, size: None,
    on_key: Callable[[str, int], None] = lambda key, size: None,
) -> MigrateReport:
    """Copy every key under ``prefix`` from ``src`` to ``dst``; failures are collected."""
    keys = sorted([k async for k in src.list(prefix)])
    sizes: dict[str, int] = {}
    for key in keys:
        info = await src.stat(key)
        sizes[key] = info.size if info else 0
    on_total(len(keys), sum(sizes.values()))
    report = MigrateReport()
    sem = asyncio.Semaphore(max(1, jobs))
    with tempfile.TemporaryDirectory(prefix="gomodproxy-migrate-") as tmpdir:
        work = Path(tmpdir)

        async def one(key: str) -> None:
            async with sem:
                try:
                    if await copy_key(src, dst, key, work):
                        report.copied += 1
                        report.bytes += sizes[key]
                    else:
                        report.skipped += 1
                except (GoModProxyError, OSError) as exc:
                    report.failures.append((key, str(exc)))
                on_key(key, sizes[key])

        await asyncio.gather(*(one(k) for k in keys))
    return report
