"""Storage backends behind one ``BlobStore`` protocol, and ``open_store`` to pick one by URL.

| URL | backend |
|---|---|
| ``./data``, ``/srv/mods``, ``file:///srv/mods`` | filesystem (a valid ``file://`` GOPROXY) |
| ``memory://`` | memory (process-local) |
| ``oci://HOST[:PORT]/REPO-PREFIX[?insecure=true]`` | OCI registry (distribution API) |
| ``s3://BUCKET[/PREFIX][?endpoint=URL&region=R&profile=P]`` | S3-compatible bucket |
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from gomodproxy.errors import ConfigError
from gomodproxy.ports.storage import BlobStore
from gomodproxy.storage.filesystem import FilesystemStore
from gomodproxy.storage.memory import MemoryStore

__all__ = ["FilesystemStore", "MemoryStore", "open_store"]


def open_store(url: str, **options: Any) -> BlobStore:
    """Open the backend a storage URL names.

    ``options`` go to the backend: for OCI ``username``, ``password``, ``token``,
    ``insecure`` (plain http) and ``timeout``; credentials not given default to the
    environment variables ``GOMODPROXY_OCI_USERNAME``, ``GOMODPROXY_OCI_PASSWORD`` and
    ``GOMODPROXY_OCI_TOKEN`` (so secrets stay out of URLs and ``config show``). An OCI store
    is wrapped in a ``DegradingStore`` (serve and fetch through while the registry is down)
    unless ``degrade=False`` (tools that must see every failure: migrate, verify, tests).
    An S3 store (options: see ``S3Store``) takes its credentials from the standard AWS chain
    and is wrapped the same way.

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
        from gomodproxy.storage.degrading import DegradingStore
        from gomodproxy.storage.oci import OciStore

        degrade = bool(options.pop("degrade", True))
        for name in ("username", "password", "token"):
            if options.get(name) is None and os.environ.get(f"GOMODPROXY_OCI_{name.upper()}"):
                options[name] = os.environ[f"GOMODPROXY_OCI_{name.upper()}"]
        oci = OciStore.from_url(url, **options)
        return DegradingStore(oci) if degrade else oci
    if scheme == "s3":
        from gomodproxy.storage.degrading import DegradingStore
        from gomodproxy.storage.s3 import S3Store

        degrade = bool(options.pop("degrade", True))
        s3 = S3Store.from_url(url, **options)
        return DegradingStore(s3) if degrade else s3
    raise ConfigError(
        f"storage URL {url!r}: unknown scheme {scheme!r} "
        "(use a path, file://, memory://, oci:// or s3://)"
    )
