"""The offline source: answers from what the store holds, as the go command's ``file://``
proxy answers over its own module cache.

The go command keeps ``<module>/@v/list`` of its download cache equal to the canonical
versions that have a ``.mod`` file there, in semver order (cmd/go/internal/modfetch/cache.go
``rewriteVersionList``: a version without its go.mod is unusable, one without its zip may still
be needed for the module graph). Reading that tree as ``GOPROXY=file://...`` it finds no
``@latest`` file and falls back to ``latestFromList`` (modfetch/proxy.go): the pseudo-version
with the newest time, tagged versions ignored. This source computes both answers from the
store's keys, so a store filled by ``mirror`` or ``import`` serves lists and latest queries
without any upstream. Anything the store lacks is not found.
"""

from __future__ import annotations

from pathlib import Path

from gomodproxy.errors import NotFound
from gomodproxy.gomod import module, pseudo, semver
from gomodproxy.ports.keys import version_key, versions_prefix
from gomodproxy.ports.source import SingleSource
from gomodproxy.ports.storage import BlobStore

__all__ = ["OFFLINE_MESSAGE", "StoreSource", "latest_from_list", "versions_from_keys"]

#: Names both switches, so a user who set either one sees why nothing is fetched.
OFFLINE_MESSAGE = (
    "not in the store, and the proxy is offline (GOPROXY=off or offline = true):"
    " it serves only what mirror or import stored"
)


def versions_from_keys(names: list[str]) -> list[str]:
    """The ``@v/list`` lines of a module whose ``@v/`` directory holds ``names``."""
    found = []
    for name in names:
        v = name.removesuffix(".mod")
        if v != name and v and module.canonical_version(v) == v:
            found.append(v)
    return semver.sort_versions(found)


def latest_from_list(versions: list[str]) -> str | None:
    """The version ``latestFromList`` picks from list lines: the newest pseudo-version."""
    best, best_time = None, None
    for line in versions:
        f = line.split()
        # Tagged versions are ignored; lines with a timestamp never come from a listing.
        if len(f) != 1 or not semver.is_valid(f[0]) or not pseudo.is_pseudo_version(f[0]):
            continue
        t = pseudo.pseudo_version_time(f[0])
        if best_time is None or best_time < t:
            best, best_time = f[0], t
    return best


class StoreSource(SingleSource):
    """A ``Source`` over a ``BlobStore`` (``GOPROXY=off`` or ``offline = true``)."""

    name = "offline"

    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def _key(self, path: str, version: str, ext: str) -> str:
        return version_key(path, version, ext)

    async def _versions(self, path: str) -> list[str]:
        prefix = versions_prefix(path)
        names = [key[len(prefix) :] async for key in self.store.list(prefix)]
        return versions_from_keys([n for n in names if "/" not in n])

    async def list(self, path: str) -> bytes:
        versions = await self._versions(path)
        if not versions:
            # As a file:// proxy without a list file: the module is unknown here.
            raise NotFound(f"{path}: {OFFLINE_MESSAGE}")
        return "".join(f"{v}\n" for v in versions).encode()

    async def latest(self, path: str) -> bytes:
        best = latest_from_list(await self._versions(path))
        if best is None:
            raise NotFound(f"{path}@latest: {OFFLINE_MESSAGE}: no pseudo-versions")
        return await self.info(path, best)

    async def info(self, path: str, query: str) -> bytes:
        return await self._get(path, query, "info")

    async def mod(self, path: str, version: str) -> bytes:
        return await self._get(path, version, "mod")

    async def zip(self, path: str, version: str, dest: Path) -> None:
        key = self._key(path, version, "zip")
        if await self.store.stat(key) is None:
            raise NotFound(f"{path}@{version}: {OFFLINE_MESSAGE}")
        with dest.open("wb") as f:
            async for chunk in self.store.stream(key):
                f.write(chunk)

    async def _get(self, path: str, version: str, ext: str) -> bytes:
        data = await self.store.get(self._key(path, version, ext))
        if data is None:
            raise NotFound(f"{path}@{version}: {OFFLINE_MESSAGE}")
        return data

    async def aclose(self) -> None:
        return None
