"""gc, usage, offline answers and bundles over every storage backend (BlobStore calls only)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from gomodproxy.bundle.export import Selection, export_bundle
from gomodproxy.bundle.importer import import_bundle
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.ports.storage import BlobStore
from gomodproxy.sources.store import StoreSource
from gomodproxy.storage import MemoryStore
from gomodproxy.storage.access import AccessLog, read_accessed
from gomodproxy.storage.gc import Rules, execute, plan, scan
from gomodproxy.storage.usage import measure

VERSIONS = ["v1.0.0", "v1.1.0", "v1.10.0"]


def _zip(version: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"example.com/m@{version}/go.mod", "module example.com/m\n")
        zf.writestr(f"example.com/m@{version}/m.go", f"package m // {version}\n")
    return buf.getvalue()


async def _fill(store: BlobStore, tmp: Path) -> None:
    for v in VERSIONS:
        base = f"example.com/m/@v/{v}"
        z = tmp / f"{v}.zip"
        z.write_bytes(_zip(v))
        await store.put(base + ".info", json.dumps({"Version": v}).encode())
        await store.put(base + ".mod", b"module example.com/m\n")
        await store.put(base + ".ziphash", hash_zip(z).encode())
        await store.put(base + ".zip", z.read_bytes())
    await store.put("example.com/m/@v/list", b"v1.0.0\n")


async def test_gc_keeps_the_newest_and_nothing_else_changes(store: BlobStore, tmp_path: Path):
    """Keep the newest version: the two older ones go whole, lists stay, usage agrees."""
    await _fill(store, tmp_path)
    versions, _ = await scan(store)
    assert [v.version for v in versions] == sorted(VERSIONS)
    gc = plan(versions, Rules(keep_newest=1), now=0.0)
    assert sorted(v.version for v in gc.remove) == ["v1.0.0", "v1.1.0"]
    assert await execute(store, gc) == []
    left = sorted([k async for k in store.list("")])
    assert left == ["example.com/m/@v/list"] + [
        f"example.com/m/@v/v1.10.0.{ext}" for ext in ("info", "mod", "zip", "ziphash")
    ]
    usage = await measure(store)
    assert usage.versions["example.com/m"] == 1
    assert usage.files["example.com/m"] == 5


async def test_offline_answers_from_the_backend(store: BlobStore, tmp_path: Path) -> None:
    """The offline list is the versions with a .mod, in semver order, on every backend."""
    await _fill(store, tmp_path)
    assert await StoreSource(store).list("example.com/m") == b"v1.0.0\nv1.1.0\nv1.10.0\n"


async def test_access_log_round_trip(store: BlobStore) -> None:
    """What a process served is read back by day."""
    access = AccessLog(store, clock=lambda: 86400.0 * 20000)
    access.touch("example.com/m/@v/v1.0.0.zip")
    await access.flush()
    assert await read_accessed(store, "") == {"example.com/m@v1.0.0": "2024-10-04"}


async def test_bundle_round_trip(store: BlobStore, tmp_path: Path) -> None:
    """Export from the backend and import into another store: the same versions, verified."""
    await _fill(store, tmp_path)
    out = tmp_path / "b.tar.zst"
    report = await export_bundle(store, out, Selection(prefixes=("example.com",)), work=tmp_path)
    assert report.versions == 3
    target = MemoryStore()
    imported = await import_bundle(target, out, work=tmp_path / "w", verifier=None)
    assert imported.versions == 3
    mod = await target.get("example.com/m/@v/v1.1.0.mod")
    assert mod is not None
    assert gomod_hash(mod) == gomod_hash(b"module example.com/m\n")
    assert await target.get("example.com/m/@v/list") is None  # lists never travel
