"""The contract every storage backend fulfils (memory, filesystem, OCI registry).

Keys are the relative paths of a ``file://`` GOPROXY tree: ``<escaped path>/@v/<version>.info``
(``.mod``, ``.zip``, ``.ziphash``, ``list``), ``<escaped path>/@latest``, plus
``sumdb/<name>/...`` for cached checksum-database tiles and ``_meta/...`` for internal state.
A key uses ``/`` separators, never starts with ``/`` and never contains ``..`` elements.

Guarantees every backend gives (the contract suite in tests/contract checks them):
- a ``put`` is atomic: readers see the old value or the whole new one, never a part;
- concurrent writers of one key leave one writer's whole value;
- ``put_file`` moves a prepared file in without holding it in memory (large zips);
- a missing key is ``None`` / ``False``, never an exception; failures are ``StorageError``.

Optional capabilities are declared, not probed: every store says its ``kind``, its local
``root`` (or None), whether it ``can_degrade`` and whether it is ``degraded`` now, and has a
``check()`` (a no-op where there is nothing to check). A store that stands alone takes the
answers of ``StandaloneStore``; a wrapper forwards each one of its inner store's, so that
mypy rejects a wrapper that forgets one where it is used as a ``BlobStore``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from gomodproxy.ports.health import Degradable


@dataclass(frozen=True)
class BlobInfo:
    """What ``stat`` knows about a stored blob."""

    size: int
    #: Last modification as a UNIX timestamp (for TTLs of mutable keys).
    mtime: float
    #: A local file holding the bytes, when the backend has one (enables sendfile).
    local_path: Path | None = None


class BlobStream(Protocol):
    """What answering a stored blob needs: its bytes in chunks. A ``BlobStore`` is one; so is
    a zip still being fetched (``service.livezip.LiveZip``)."""

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` in chunks; raises ``NotFound`` if the key is missing."""


@runtime_checkable
class BlobStore(Degradable, Protocol):
    """Key → bytes, with atomic writes and streaming reads; a remote store can degrade
    (``ports.health``: while it is down, reads miss and writes are spooled)."""

    #: Label for logs, metrics and the status page (``filesystem``, ``memory``, ``oci``).
    kind: str

    @property
    def root(self) -> Path | None:
        """The local directory that is the tree (a filesystem store), else None: work files
        go inside it so that storing a zip is a rename, and the status page measures it."""

    async def check(self) -> None:
        """Check the configuration once at start-up (the bucket exists, the credentials
        work); raises ``StorageError``/``ConfigError`` when it is wrong. Stores without
        anything to check return at once."""

    async def get(self, key: str) -> bytes | None:
        """The whole value (use for small artifacts), or None."""

    async def stat(self, key: str) -> BlobInfo | None:
        """Size and age of the value, or None."""

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` in chunks; raises ``NotFound`` if the key is missing."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` atomically."""

    async def put_file(self, key: str, src: Path) -> None:
        """Store the content of ``src`` atomically; ``src`` may be moved away or deleted."""

    async def delete(self, key: str) -> bool:
        """Remove the key; True if it existed."""

    def list(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key starting with ``prefix``, in no particular order."""

    async def aclose(self) -> None:
        """Release connections."""


class StandaloneStore:
    """The capabilities of a store that wraps no other: no local root, never degraded,
    nothing to check. Backends inherit these and override what they have (``FilesystemStore``
    its ``root``, ``S3Store`` its ``check``); wrappers must not inherit them, they forward
    their inner store's."""

    root: Path | None = None
    can_degrade = False
    degraded = False

    async def check(self) -> None:
        return None
