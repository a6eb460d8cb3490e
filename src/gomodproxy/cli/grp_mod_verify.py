"""``gomodproxy mod verify``: re-hash every stored zip and go.mod, compare with the stored hash
and the checksum database, and report every difference (exit 3 if there is any)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from gomodproxy.config import load_settings
from gomodproxy.errors import GoModProxyError, InvalidInput, VerificationError
from gomodproxy.gomod.module import unescape_path, unescape_version
from gomodproxy.storage import open_store
from gomodproxy.storage.base import BlobStore
from gomodproxy.verify import SumdbVerifier, from_settings
from gomodproxy.zipfiles import hash_zip


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "verify",
        help="re-hash stored modules and check them against the checksum database",
        description=(
            "Re-hash every stored module zip and go.mod; compare each zip with its stored "
            ".ziphash and both with the checksum database (GOSUMDB, unless GONOSUMDB or "
            "GOPRIVATE exempts the module). Prints one line per problem; exits 3 if any."
        ),
    )
    p.add_argument("--storage", metavar="DIR", help="storage URL or directory (default: settings)")
    p.add_argument("--config", metavar="FILE", help="TOML settings file")
    p.set_defaults(func=run)


def _split(key: str) -> tuple[str, str, str] | None:
    """(path, version, kind) of ``<escaped path>/@v/<escaped version>.<kind>``."""
    epath, sep, rest = key.rpartition("/@v/")
    if not sep or key.startswith(("_meta/", "sumdb/")):
        return None
    base, dot, kind = rest.rpartition(".")
    if not dot or kind not in ("mod", "zip"):
        return None
    try:
        return unescape_path(epath), unescape_version(base), kind
    except InvalidInput:
        return None


async def verify_store(store: BlobStore, verifier: SumdbVerifier) -> tuple[int, list[str]]:
    """Check every stored .mod and .zip; (number checked, problems)."""
    problems: list[str] = []
    keys = sorted([k async for k in store.list("")])
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
            stored = (await store.get(key + "hash") or b"").decode().strip()
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


def run(args: argparse.Namespace) -> int:
    flags = {"storage": args.storage}
    settings = load_settings(args.config, flags=flags)
    # Not through the degrading wrapper: a registry read that fails must be a problem here.
    store = open_store(settings.storage, degrade=False)

    async def main() -> tuple[int, list[str]]:
        verifier = from_settings(settings, store)
        try:
            return await verify_store(store, verifier)
        finally:
            await verifier.aclose()
            await store.aclose()

    checked, problems = asyncio.run(main())
    for line in problems:
        print(line)
    if problems:
        raise VerificationError(
            f"{len(problems)} of {checked} stored artifacts failed verification"
        )
    print(f"all {checked} stored artifacts verified")
    return 0
