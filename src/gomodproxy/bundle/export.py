"""``export``: write a selection of the store as an offline bundle.

The selection is made over the store's listing (by go.sum lines, module path prefix, time of
storing, or everything). With a checksum database configured, the bundle also carries, for
every selected module version the database covers, its lookup response and the tiles a go
command needs to verify it with no network (``sumdb.closure``); lookups or tiles the store
lacks are fetched from the database now, and every tile is authenticated before it is
written. The manifest is computed in a first pass, so it can be the first member.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gomodproxy.bundle.archive import BundleWriter
from gomodproxy.bundle.manifest import MANIFEST_NAME, Entry, Manifest, is_bundle_key
from gomodproxy.checksumdb.database import SumdbDatabase
from gomodproxy.errors import GoModProxyError, NotFound
from gomodproxy.gomod import module
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.gomod.modgraph import SumLine
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.ports.keys import parse_version_key, ziphash_key
from gomodproxy.ports.storage import BlobStore
from gomodproxy.sumdb import note
from gomodproxy.sumdb.closure import plan_reads, widest_tiles
from gomodproxy.sumdb.tile import Tile, TileHashPlan
from gomodproxy.sumdb.tlog import Tree, parse_record, parse_tree

__all__ = ["ExportReport", "Selection", "export_bundle", "lookup_key"]


@dataclass(frozen=True)
class Selection:
    """Which module versions to export; all given criteria must hold (none: everything)."""

    #: go.sum lines: a version is selected with its zip, a ``/go.mod`` line without it.
    gosum: tuple[SumLine, ...] | None = None
    prefixes: tuple[str, ...] = ()
    #: Only versions stored at or after this UNIX time.
    since: float | None = None

    def wants(self, path: str, version: str) -> set[str] | None:
        """The file kinds to export for ``path@version``, or None if not selected."""
        if self.prefixes and not any(
            path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in self.prefixes
        ):
            return None
        if self.gosum is None:
            return {"info", "mod", "zip"}
        kinds: set[str] = set()
        for line in self.gosum:
            if line.path == path and line.version == version:
                kinds |= {"info", "mod"} if line.gomod_only else {"info", "mod", "zip"}
        return kinds or None


@dataclass
class ExportReport:
    versions: int = 0
    files: int = 0
    bytes: int = 0
    lookups: int = 0
    tiles: int = 0
    #: Versions the checksum database covers that could not be given their lookup.
    unverifiable: list[tuple[str, str]] = field(default_factory=list)


def lookup_key(db_name: str, path: str, version: str) -> str:
    """The storage key of a lookup response, as the go command names its cache file."""
    return f"sumdb/{db_name}/lookup/{module.escape_path(path)}@{module.escape_version(version)}"


async def _digest(store: BlobStore, key: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    async for chunk in store.stream(key):
        h.update(chunk)
        size += len(chunk)
    return size, h.hexdigest()


async def _zip_h1(store: BlobStore, key: str, work: Path) -> str:
    stored = await store.get(ziphash_key(key))
    if stored:
        return stored.decode("ascii").strip()
    fd, name = tempfile.mkstemp(suffix=".zip", dir=work)
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in store.stream(key):
                f.write(chunk)
        return await asyncio.to_thread(hash_zip, Path(name))
    finally:
        os.unlink(name)


async def _select(store: BlobStore, selection: Selection) -> dict[tuple[str, str], list[str]]:
    """Selected (path, version) → their keys, from one listing of the store."""
    found: dict[tuple[str, str], list[str]] = {}
    async for key in store.list(""):
        split = parse_version_key(key)
        if split is None or not is_bundle_key(key):
            continue
        path, version = split.path, split.version
        kinds = selection.wants(path, version)
        if kinds is None or split[2] not in kinds:
            continue
        if selection.since is not None:
            info = await store.stat(key)
            if info is None or info.mtime < selection.since:
                continue
        found.setdefault((path, version), []).append(key)
    return found


class _Sumdb:
    """Collects one database's lookups and the tiles that prove them."""

    def __init__(self, db: SumdbDatabase, store: BlobStore) -> None:
        self.db = db
        self.store = store
        self.records: list[tuple[int, Tree]] = []
        self.keys: list[str] = []
        self.tiles: dict[str, bytes] = {}

    async def add(self, path: str, version: str) -> bool:
        key = lookup_key(self.db.name, path, version)
        data = await self.store.get(key)
        if data is None:
            try:
                await self.db.lookup(path, version)
            except GoModProxyError:
                return False
            data = await self.store.get(key)
            if data is None:
                return False
        record_id, _, tree_msg = parse_record(data)
        opened = note.open_note(tree_msg, self.db.client.verifiers)
        self.records.append((record_id, parse_tree(opened.text.encode())))
        self.keys.append(key)
        return True

    async def _tile(self, t: Tile) -> bytes:
        data = await self.db.stored_tile(t)
        if data is not None:
            return data
        if self.db.offline:
            raise NotFound(f"checksum database {self.db.name}: tile {t.path()} not stored")
        data = await self.db.remote.read("/" + t.path())
        await self.store.put(f"sumdb/{self.db.name}/{t.path()}", data)
        return data

    async def collect_tiles(self) -> None:
        reads = plan_reads(self.records)
        widest = widest_tiles(reads, self.db.client.tile_height)
        data = {(t.l, t.n): await self._tile(t) for t in widest}
        for read in reads:
            plan = TileHashPlan(read.tree, self.db.client.tile_height, read.indexes)
            plan.authenticate([data[(t.l, t.n)][: t.w * 32] for t in plan.tiles])
        for t in widest:
            self.tiles[f"sumdb/{self.db.name}/{t.path()}"] = data[(t.l, t.n)]


async def export_bundle(
    store: BlobStore,
    out: Path,
    selection: Selection,
    *,
    databases: Sequence[tuple[SumdbDatabase, Callable[[str], bool]]] = (),
    compress: bool = True,
    work: Path | None = None,
    clock: Callable[[], float] | None = None,
) -> ExportReport:
    """Write the selected versions (and their checksum-database proofs) to ``out``.

    ``databases`` pairs each database with its exemption test (GONOSUMDB/GOPRIVATE).

    Raises:
        VerificationError: a tile from the database does not authenticate.
        StorageError, UpstreamError: reading the store or the database failed.
    """
    report = ExportReport()
    chosen = await _select(store, selection)
    work = work or Path(tempfile.gettempdir())
    entries: dict[str, Entry] = {}
    for _, keys in sorted(chosen.items()):
        report.versions += 1
        for key in keys:
            size, sha = await _digest(store, key)
            h1 = ""
            if key.endswith(".mod"):
                h1 = gomod_hash(await store.get(key) or b"")
            elif key.endswith(".zip"):
                h1 = await _zip_h1(store, key, work)
            entries[key] = Entry(key, size, sha, h1)
    extra: dict[str, bytes] = {}
    for db, exempt in databases:
        proofs = _Sumdb(db, store)
        for path, version in sorted(chosen):
            if exempt(path):
                continue
            if not await proofs.add(path, version):
                report.unverifiable.append((path, version))
        if proofs.records:
            await proofs.collect_tiles()
        for key in proofs.keys:
            extra[key] = await store.get(key) or b""
        extra.update(proofs.tiles)
        report.lookups += len(proofs.keys)
        report.tiles += len(proofs.tiles)
    for key, data in extra.items():
        entries[key] = Entry(key, len(data), hashlib.sha256(data).hexdigest())
    now = clock() if clock else datetime.now(UTC).timestamp()
    created = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = Manifest(entries, created)
    writer = BundleWriter(out, compress=compress)
    try:
        writer.add_bytes(MANIFEST_NAME, manifest.to_json())
        for key, entry in sorted(entries.items()):
            if key in extra:
                writer.add_bytes(key, extra[key])
                continue
            await _add_stored(writer, store, key, entry.size, work)
            report.bytes += entry.size
        report.files = len(entries)
    finally:
        writer.close()
    return report


async def _add_stored(
    writer: BundleWriter, store: BlobStore, key: str, size: int, work: Path
) -> None:
    """Spool a stored value to a temp file and add it (tarfile reads a file object)."""
    info = await store.stat(key)
    local = info.local_path if info is not None else None
    if local is not None:
        with local.open("rb") as f:
            writer.add_file(key, f, size)
        return
    with tempfile.TemporaryFile(dir=work) as tmp:
        async for chunk in store.stream(key):
            tmp.write(chunk)
        tmp.seek(0)
        writer.add_file(key, tmp, size)
