"""``storage usage``: where the bytes of a store are, per module path prefix.

One listing and a ``stat`` per key; module files (versions, lists, ``@latest``) are counted
under their module path cut to ``depth`` elements (``github.com/org`` at depth 2), everything
else under its first key element (``sumdb``, ``_meta``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gomodproxy.ports.keys import module_of_key, split_version_key
from gomodproxy.ports.storage import BlobStore

__all__ = ["Usage", "measure"]


@dataclass
class Usage:
    bytes: Counter[str] = field(default_factory=Counter)
    files: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    modules: dict[str, set[str]] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    def top(self, n: int) -> list[tuple[str, int]]:
        return self.bytes.most_common(n)


async def measure(store: BlobStore, depth: int = 2) -> Usage:
    usage = Usage()
    async for key in store.list(""):
        info = await store.stat(key)
        if info is None:
            continue
        split = split_version_key(key)
        group, path = key.split("/", 1)[0], module_of_key(key)
        if path:
            group = "/".join(path.split("/")[:depth])
        usage.bytes[group] += info.size
        usage.files[group] += 1
        if path:
            usage.modules.setdefault(group, set()).add(path)
            if split is not None and split[2] == "mod":
                usage.versions[group] += 1
    return usage
