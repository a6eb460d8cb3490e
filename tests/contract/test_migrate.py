"""``gomodproxy storage migrate``: a whole store copied between backends, hash-verified."""

from __future__ import annotations

import asyncio
import io
import secrets
import zipfile
from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.storage import FilesystemStore
from tests.e2e.servers import MINIO_BUCKET, MinioServer, RegistryServer


def module_zip(tmp_path: Path, body: bytes) -> tuple[bytes, str]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("example.com/m@v1.0.0/go.mod", "module example.com/m\n")
        zf.writestr("example.com/m@v1.0.0/m.go", body)
    path = tmp_path / "m.zip"
    path.write_bytes(buf.getvalue())
    return buf.getvalue(), hash_zip(path)


def fill(root: Path, tmp_path: Path) -> dict[str, bytes]:
    zip_bytes, h1 = module_zip(tmp_path, b"package m\n")
    values = {
        "example.com/m/@v/list": b"v1.0.0\n",
        "example.com/m/@v/v1.0.0.info": b'{"Version":"v1.0.0"}',
        "example.com/m/@v/v1.0.0.mod": b"module example.com/m\n",
        "example.com/m/@v/v1.0.0.zip": zip_bytes,
        "example.com/m/@v/v1.0.0.ziphash": h1.encode(),
        "example.com/!big/@v/v2.0.0+incompatible.info": b"{}",
        "sumdb/sum.example/tile/8/0/000": secrets.token_bytes(8192),
    }
    store = FilesystemStore(root)
    for key, value in values.items():
        asyncio.run(store.put(key, value))
    return values


@pytest.fixture(params=["oci", "s3"])
def remote_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prefix of a remote store; S3 credentials come from the environment."""
    prefix = f"migrate/t{secrets.token_hex(6)}"
    if request.param == "oci":
        registry: RegistryServer = request.getfixturevalue("registry_server")
        return registry.store_url(prefix)
    minio: MinioServer = request.getfixturevalue("minio_server")
    for name, value in minio.env().items():
        monkeypatch.setenv(name, value)
    return minio.store_url(MINIO_BUCKET, prefix, credentials=False)


class TestMigrate:
    def test_filesystem_to_remote_and_back(
        self,
        tmp_path: Path,
        remote_url: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Every key survives fs → OCI or S3 → fs byte for byte; a second run copies nothing."""
        values = fill(tmp_path / "a", tmp_path)
        remote = remote_url
        argv = ["storage", "migrate", "--no-progress"]
        assert main([*argv, "--from", str(tmp_path / "a"), "--to", remote]) == 0
        assert f"copied {len(values)} keys" in capsys.readouterr().out
        assert main([*argv, "--from", remote, "--to", (tmp_path / "b").as_uri()]) == 0
        capsys.readouterr()
        back = tmp_path / "b"
        assert {k: (back / k).read_bytes() for k in values} == values
        assert sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file()) == sorted(
            values
        )
        assert main([*argv, "--from", str(tmp_path / "a"), "--to", remote]) == 0
        assert f"copied 0 keys (0 bytes), skipped {len(values)}" in capsys.readouterr().out

    def test_zip_not_matching_its_hash_is_not_copied(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A zip whose bytes disagree with its recorded h1 fails and stays behind."""
        fill(tmp_path / "a", tmp_path)
        tampered, _ = module_zip(tmp_path, b"package m // tampered\n")
        asyncio.run(FilesystemStore(tmp_path / "a").put("example.com/m/@v/v1.0.0.zip", tampered))
        code = main(
            [
                "storage",
                "migrate",
                "--no-progress",
                "--from",
                str(tmp_path / "a"),
                "--to",
                "memory://",
            ]
        )
        assert code == 1
        err = capsys.readouterr().err
        assert "failed: example.com/m/@v/v1.0.0.zip: zip hash" in err

    def test_empty_source(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An empty source copies nothing and succeeds."""
        argv = ["storage", "migrate", "--no-progress", "--from", str(tmp_path), "--to", "memory://"]
        assert main(argv) == 0
        assert "copied 0 keys" in capsys.readouterr().out
