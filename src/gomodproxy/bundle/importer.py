"""``import``: verify a bundle (or a ``$GOMODCACHE/cache/download`` tree) completely, then
make it visible one module version at a time.

Theory of operation
-------------------
1. Staging. Every file is copied into a private directory while its size and SHA-256 are
   computed; they must equal the manifest's, every manifest entry must be present and
   nothing else may be. (A module cache has no manifest: one is computed from its files,
   and the ``.ziphash`` the go command wrote stands for the zip's claimed h1.)
2. Checking, before anything is stored: each ``.info`` names its version; each ``.mod``
   hashes to its h1 and declares a path that fits the module; each zip passes the go
   command's zip checks and hashes to its h1; and, unless the module is exempt (GONOSUMDB,
   GOPRIVATE) or no checksum database is configured, both hashes are found in the database,
   exactly as on ingest. When the bundle carries that database's lookups and tiles, the
   check runs against them alone (an air-gapped importer can verify); otherwise against the
   configured database.
3. Commit: per version, ``.ziphash``, ``.zip`` and ``.info`` first and the ``.mod`` last (the
   offline list shows versions by their ``.mod``), each write atomic; then the checksum data.
   A version already stored is left alone, so importing twice changes nothing.

Any failure in 1 or 2 is a ``VerificationError`` naming the file and both values, and the
store is untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gomodproxy.bundle.archive import read_members
from gomodproxy.bundle.manifest import MANIFEST_NAME, Entry, Manifest, is_bundle_key
from gomodproxy.checksumdb.database import SumdbDatabase
from gomodproxy.checksumdb.verify import SumdbVerifier
from gomodproxy.errors import InvalidInput, VerificationError
from gomodproxy.gomod import modfile, module
from gomodproxy.gomod.dirhash import gomod_hash
from gomodproxy.ports.keys import check_key, split_version_key, ziphash_key
from gomodproxy.ports.storage import BlobStore
from gomodproxy.service.validate import MAX_ZIP_BYTES, check_and_hash_zip
from gomodproxy.storage.filesystem import FilesystemStore

__all__ = ["ImportReport", "TamperedBundle", "import_bundle", "import_gomodcache"]

_CHUNK = 1 << 20


class TamperedBundle(VerificationError):
    """A file of the bundle is not what its manifest (or the checksum database) says."""


@dataclass
class ImportReport:
    versions: int = 0
    skipped: int = 0
    files: int = 0
    bytes: int = 0
    sumdb_files: int = 0
    verified_offline: list[str] = field(default_factory=list)


def _copy_hashed(src: IO[bytes], dest: Path, limit: int) -> tuple[int, str]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    with dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                break
            h.update(chunk)
            out.write(chunk)
    return size, h.hexdigest()


def _stage_bundle(bundle: Path, staging: Path) -> Manifest:
    members = read_members(bundle)
    first = next(members, None)
    if first is None or first[0] != MANIFEST_NAME:
        raise TamperedBundle(f"{bundle}: the first member is not {MANIFEST_NAME}")
    manifest = Manifest.parse(first[1].read(16 << 20))
    seen: set[str] = set()
    for name, stream in members:
        entry = manifest.entries.get(name)
        if entry is None:
            raise TamperedBundle(f"{bundle}: {name} is not in the manifest")
        if name in seen:
            raise TamperedBundle(f"{bundle}: {name} appears twice")
        seen.add(name)
        size, sha = _copy_hashed(stream, staging / name, entry.size)
        _check_digest(bundle, entry, size, sha)
    missing = sorted(set(manifest.entries) - seen)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise TamperedBundle(f"{bundle}: {missing[0]}{more} listed in the manifest but missing")
    return manifest


def _check_digest(where: Path, entry: Entry, size: int, sha: str) -> None:
    if size != entry.size:
        raise TamperedBundle(
            f"{where}: {entry.key}: size {size}{'+' if size > entry.size else ''} bytes, "
            f"the manifest says {entry.size}"
        )
    if sha != entry.sha256:
        raise TamperedBundle(
            f"{where}: {entry.key}: SHA-256 {sha}, the manifest says {entry.sha256}"
        )


def _cache_files(root: Path) -> Iterator[tuple[str, Path]]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            key = p.relative_to(root).as_posix()
            try:
                check_key(key)
            except InvalidInput:
                continue
            if is_bundle_key(key):
                yield key, p


def _stage_gomodcache(root: Path, staging: Path) -> Manifest:
    """Copy a module cache's files into staging and make their manifest."""
    entries: dict[str, Entry] = {}
    for key, p in _cache_files(root):
        with p.open("rb") as f:
            size, sha = _copy_hashed(f, staging / key, 1 << 62)
        h1 = ""
        if key.endswith(".mod"):
            h1 = gomod_hash((staging / key).read_bytes())
        elif key.endswith(".zip"):
            ziphash = p.with_name(p.name + "hash")
            if not ziphash.is_file():
                continue  # a download the go command never finished
            h1 = ziphash.read_text().strip()
        entries[key] = Entry(key, size, sha, h1)
    return Manifest(entries)


def _check_version(staging: Path, path: str, version: str, files: dict[str, Entry]) -> None:
    """Step 2 without the checksum database: the files agree with themselves."""
    target = f"{path}@{version}"
    for ext, entry in files.items():
        local = staging / entry.key
        if ext == "info":
            try:
                got = json.loads(local.read_bytes()).get("Version")
            except (ValueError, AttributeError):
                got = None
            if got != version:
                raise TamperedBundle(f"{entry.key}: .info names version {got!r}, not {version}")
        elif ext == "mod":
            data = local.read_bytes()
            if gomod_hash(data) != entry.h1:
                raise TamperedBundle(
                    f"{entry.key}: go.mod hash {gomod_hash(data)}, the manifest says {entry.h1}"
                )
            if not modfile.module_path(data):
                raise TamperedBundle(f"{entry.key}: go.mod of {target} has no module line")
        elif ext == "zip":
            try:
                h1 = check_and_hash_zip(local, path, version, MAX_ZIP_BYTES)
            except InvalidInput as exc:
                raise TamperedBundle(f"{entry.key}: {exc}") from None
            if h1 != entry.h1:
                raise TamperedBundle(f"{entry.key}: zip hash {h1}, the manifest says {entry.h1}")


def _versions(manifest: Manifest) -> dict[tuple[str, str], dict[str, Entry]]:
    out: dict[tuple[str, str], dict[str, Entry]] = {}
    for key, entry in manifest.entries.items():
        split = split_version_key(key)
        if split is None:
            continue
        try:
            mv = (module.unescape_path(split[0]), module.unescape_version(split[1]))
            module.check(*mv)
        except InvalidInput as exc:
            raise TamperedBundle(f"{key}: {exc}") from None
        out.setdefault(mv, {})[split[2]] = entry
    return out


async def _verify_sums(
    staging: Path,
    manifest: Manifest,
    versions: dict[tuple[str, str], dict[str, Entry]],
    verifier: SumdbVerifier | None,
    report: ImportReport,
) -> None:
    if verifier is None or verifier.db is None:
        return
    db = verifier.db
    check: SumdbVerifier = verifier
    staged_db: SumdbDatabase | None = None
    if any(k.startswith(f"sumdb/{db.name}/") for k in manifest.entries):
        # Verify against what the bundle carries, and nothing else.
        staged_db = SumdbDatabase(db.remote, FilesystemStore(staging), key=db.key, offline=True)
        check = SumdbVerifier(staged_db, gonosumdb=verifier.gonosumdb)
        report.verified_offline.append(db.name)
    try:
        for (path, version), files in sorted(versions.items()):
            try:
                if "mod" in files:
                    await check.verify_mod(path, version, (staging / files["mod"].key).read_bytes())
                if "zip" in files:
                    await check.verify_zip(path, version, files["zip"].h1)
            except VerificationError as exc:
                raise TamperedBundle(f"{path}@{version}: {exc}") from exc
    finally:
        if staged_db is not None:
            shutil.rmtree(staging / "_meta", ignore_errors=True)


async def _commit(
    store: BlobStore,
    staging: Path,
    manifest: Manifest,
    versions: dict[tuple[str, str], dict[str, Entry]],
    report: ImportReport,
) -> None:
    for _, files in sorted(versions.items()):
        if all([await store.stat(e.key) is not None for e in files.values()]):
            report.skipped += 1
            continue
        for ext in ("zip", "info", "mod"):
            entry = files.get(ext)
            if entry is None:
                continue
            if ext == "zip":
                # As on ingest: a visible zip always has its .ziphash.
                await store.put(ziphash_key(entry.key), entry.h1.encode("ascii"))
            await store.put_file(entry.key, staging / entry.key)
            report.files += 1
            report.bytes += entry.size
        report.versions += 1
    for key in sorted(manifest.entries):
        if split_version_key(key) is None:
            await store.put_file(key, staging / key)
            report.sumdb_files += 1


async def _run(
    store: BlobStore,
    work: Path,
    stage: Callable[[Path], Manifest],
    verifier: SumdbVerifier | None,
) -> ImportReport:
    work.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="import-", dir=work))
    report = ImportReport()
    try:
        manifest = await asyncio.to_thread(stage, staging)
        versions = _versions(manifest)
        for (path, version), files in sorted(versions.items()):
            await asyncio.to_thread(_check_version, staging, path, version, files)
        await _verify_sums(staging, manifest, versions, verifier, report)
        await _commit(store, staging, manifest, versions, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


async def import_bundle(
    store: BlobStore, bundle: Path, *, work: Path, verifier: SumdbVerifier | None
) -> ImportReport:
    """Verify ``bundle`` completely, then store its versions.

    Raises:
        TamperedBundle: a file differs from its manifest or from the checksum database.
        InvalidInput: the file is not a bundle.
        UpstreamError: the configured checksum database could not be asked.
    """
    return await _run(store, work, lambda staging: _stage_bundle(bundle, staging), verifier)


async def import_gomodcache(
    store: BlobStore, root: Path, *, work: Path, verifier: SumdbVerifier | None
) -> ImportReport:
    """Adopt a ``$GOMODCACHE/cache/download`` tree (or ``$GOMODCACHE``) with the same checks.

    Raises:
        InvalidInput: ``root`` is not a directory.
        TamperedBundle: a file fails its checks.
    """
    if (root / "cache" / "download").is_dir():
        root = root / "cache" / "download"
    if not root.is_dir():
        raise InvalidInput(f"{root}: not a directory")
    return await _run(store, work, lambda staging: _stage_gomodcache(root, staging), verifier)
