"""Storage backends behind one ``BlobStore`` protocol, and ``open_store`` to pick one by URL.

| URL | backend |
|---|---|
| ``./data``, ``/srv/mods``, ``file:///srv/mods`` | filesystem (a valid ``file://`` GOPROXY) |
| ``memory://`` | memory (process-local) |
| ``oci://HOST[:PORT]/REPO-PREFIX`` | OCI registry over the distribution API |
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from gomodproxy.errors import ConfigError
from gomodproxy.storage.base import BlobInfo, BlobStore
from gomodproxy.storage.filesystem import FilesystemStore
from gomodproxy.storage.memory import MemoryStore

__all__ = ["BlobInfo", "BlobStore", "FilesystemStore", "MemoryStore", "open_store"]


def open_store(url: str, **options: Any) -> BlobStore:
    """Open the backend a storage URL names.

    ``options`` go to the backend: for OCI ``username``, ``password``, ``token``,
    ``insecure`` (plain http) and ``timeout``.

    Raises:
        ConfigError: the URL is empty, has an unknown scheme or is incomplete.
    """
    url = url.strip()
    if not url:
        raise ConfigError("storage URL is empty")
    if url == "memory://" or url == "memory":
        return MemoryStore()
    scheme, sep, _ = url.partition("://")
    if not sep:
        return FilesystemStore(url)
    scheme = scheme.lower()
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"storage URL {url!r}: file:// URLs must name a local path")
        return FilesystemStore(unquote(parts.path))
    if scheme == "oci":
        from gomodproxy.storage.oci import OciStore

        return OciStore.from_url(url, **options)
    raise ConfigError(
        f"storage URL {url!r}: unknown scheme {scheme!r} (use a path, file://, memory:// or oci://)"
    )
