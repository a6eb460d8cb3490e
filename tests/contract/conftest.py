"""The ``store`` fixture: one fresh BlobStore per test, for every backend in ``BACKENDS``.

The OCI backend runs against a real docker-registry and the S3 backend against a real MinIO
server, each shared by the session; each test gets its own repository or object prefix, so
stores never see each other's keys.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gomodproxy.ports.storage import BlobStore
from gomodproxy.storage import open_store
from tests.e2e.servers import (
    MINIO_BUCKET,
    MinioServer,
    RegistryServer,
    minio_server,
    registry_server,
)

__all__ = ["minio_server", "registry_server"]

BACKENDS = ["memory", "filesystem", "oci", "s3"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    """A fresh, empty store of each backend kind."""
    kind = request.param
    if kind == "memory":
        s = open_store("memory://")
    elif kind == "filesystem":
        s = open_store(str(tmp_path / "store"))
    elif kind == "s3":
        minio: MinioServer = request.getfixturevalue("minio_server")
        s = open_store(
            minio.store_url(MINIO_BUCKET, f"contract/t{secrets.token_hex(6)}"), degrade=False
        )
    else:
        registry: RegistryServer = request.getfixturevalue("registry_server")
        s = open_store(registry.store_url(f"contract/t{secrets.token_hex(6)}"), degrade=False)
    try:
        yield s
    finally:
        await s.aclose()
