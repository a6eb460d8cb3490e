"""Re-verify a whole store: re-hash every stored zip and go.mod, compare with the stored hash
and the checksum database (``mod verify`` and the admin endpoint)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from gomodproxy.errors import GoModProxyError
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.ports.keys import parse_version_key, ziphash_key
from gomodproxy.ports.storage import BlobStore
from gomodproxy.ports.verifier import Verifier


def _split(key: str) -> tuple[str, str, str] | None:
    """(path, version, kind) of a ``.mod`` or ``.zip`` key."""
    if key.startswith(("_meta/", "sumdb/")):
        return None
    split = parse_version_key(key)
    return split if split is not None and split.ext in ("mod", "zip") else None


async def verify_store(
    store: BlobStore, verifier: Verifier, prefix: str = ""
) -> tuple[int, list[str]]:
    """Check every stored .mod and .zip (whose key starts with ``prefix``); (number checked,
    problems)."""
    problems: list[str] = []
    keys = sorted([k async for k in store.list(prefix)])
    checked = 0
    for key in keys:
        parsed = _split(key)
        if parsed is None:
            continue
        path, version, kind = parsed
        checked += 1
        try:
            if kind == "mod":
                data = await store.get(key) or b""
                await verifier.verify_mod(path, version, data)
                continue
            info = await store.stat(key)
            if info is not None and info.local_path is not None:
                h1 = await asyncio.to_thread(hash_zip, info.local_path)
            else:
                h1 = await _hash_blob(store, key)
            stored = (await store.get(ziphash_key(key)) or b"").decode().strip()
            if stored and stored != h1:
                problems.append(f"{path}@{version}: zip hash {h1} differs from stored {stored}")
            await verifier.verify_zip(path, version, h1)
        except GoModProxyError as exc:
            problems.append(" ".join(str(exc).split()))
    return checked, problems


async def _hash_blob(store: BlobStore, key: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "m.zip"
        with dest.open("wb") as fh:
            async for chunk in store.stream(key):
                fh.write(chunk)
        return await asyncio.to_thread(hash_zip, dest)
