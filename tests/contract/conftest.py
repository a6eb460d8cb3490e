"""The ``store`` fixture: one fresh BlobStore per test, for every backend in ``BACKENDS``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gomodproxy.storage import BlobStore, open_store

BACKENDS = ["memory", "filesystem"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    """A fresh, empty store of each backend kind."""
    kind = request.param
    s = open_store("memory://") if kind == "memory" else open_store(str(tmp_path / "store"))
    try:
        yield s
    finally:
        await s.aclose()
