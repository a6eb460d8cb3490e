"""What ``export`` and ``import`` both work on: the configured store, the checksum database
verifier the settings ask for, and the directory for temporary files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gomodproxy.checksumdb.verify import SumdbVerifier
    from gomodproxy.config.settings import Settings
    from gomodproxy.ports.storage import BlobStore


@asynccontextmanager
async def open_verified_store(
    settings: Settings,
) -> AsyncIterator[tuple[BlobStore, SumdbVerifier, Path]]:
    """The store, its verifier and ``<work dir>/tmp`` (not created); both closed on exit."""
    from gomodproxy.compose import verifier_for
    from gomodproxy.localfs.workdir import work_dir
    from gomodproxy.storage import open_store

    store = open_store(settings.storage.storage)
    verifier = verifier_for(settings, store)
    try:
        yield store, verifier, work_dir(settings.storage.temp_dir, store) / "tmp"
    finally:
        await verifier.aclose()
        await store.aclose()
