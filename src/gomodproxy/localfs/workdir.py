"""Where downloads in progress and lock files go."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gomodproxy.ports.storage import BlobStore


def work_dir(temp_dir: str, store: BlobStore) -> Path:
    """``temp_dir`` when set; else inside a filesystem store (so storing a zip is a rename;
    dot names are never keys), else the system temp dir."""
    if temp_dir:
        return Path(temp_dir)
    if store.root is not None:
        return store.root / ".gomodproxy"
    return Path(tempfile.gettempdir()) / "gomodproxy"
