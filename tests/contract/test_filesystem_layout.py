"""What only the filesystem backend promises: its tree is a ``file://`` GOPROXY, writes leave
no temp files, values have a local path for sendfile, and ``open_store`` picks backends."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gomodproxy.errors import ConfigError, StorageError
from gomodproxy.storage import FilesystemStore, MemoryStore, open_store
from gomodproxy.storage.filesystem import _walk


class TestLayout:
    async def test_tree_is_exactly_the_keys(self, tmp_path: Path) -> None:
        """Each key is the file at that relative path, nothing else is written."""
        store = FilesystemStore(tmp_path)
        await store.put("example.com/!foo/@v/v1.0.0.info", b"{}")
        await store.put("example.com/!foo/@v/list", b"v1.0.0\n")
        files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
        assert files == ["example.com/!foo/@v/list", "example.com/!foo/@v/v1.0.0.info"]
        assert (tmp_path / "example.com/!foo/@v/v1.0.0.info").read_bytes() == b"{}"
        mode = (tmp_path / "example.com/!foo/@v/list").stat().st_mode & 0o777
        assert mode & 0o044 == 0o044, "files must be readable by a static web server"

    async def test_stat_gives_local_path(self, tmp_path: Path) -> None:
        """stat names the file holding the bytes, so the server can sendfile it."""
        store = FilesystemStore(tmp_path)
        await store.put("m/@v/v1.0.0.zip", b"PK")
        info = await store.stat("m/@v/v1.0.0.zip")
        assert info is not None
        assert info.local_path == tmp_path / "m/@v/v1.0.0.zip"

    async def test_temp_files_are_ignored_by_list(self, tmp_path: Path) -> None:
        """A temp file left by a crash never shows up as a key."""
        store = FilesystemStore(tmp_path)
        await store.put("m/@v/v1.0.0.mod", b"module m\n")
        (tmp_path / "m/@v/.tmp-0123456789abcdef").write_bytes(b"partial")
        assert [k async for k in store.list()] == ["m/@v/v1.0.0.mod"]
        assert _walk(tmp_path, "m/@v/.") == []

    async def test_failed_put_file_leaves_no_temp(self, tmp_path: Path) -> None:
        """A put_file whose source is missing raises StorageError and leaves nothing behind."""
        store = FilesystemStore(tmp_path / "root")
        with pytest.raises(StorageError):
            await store.put_file("m/@v/v1.0.0.zip", tmp_path / "missing.zip")
        leftovers = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
        assert leftovers == []

    async def test_put_file_moves_source(self, tmp_path: Path) -> None:
        """put_file on the same filesystem renames the source in rather than copying it."""
        store = FilesystemStore(tmp_path / "root")
        src = tmp_path / "upload"
        src.write_bytes(b"zip")
        await store.put_file("m/@v/v1.0.0.zip", src)
        assert not src.exists()
        assert sorted(os.listdir(tmp_path / "root/m/@v")) == ["v1.0.0.zip"]

    async def test_put_over_a_directory_is_a_storage_error(self, tmp_path: Path) -> None:
        """Writing a key whose path is a directory fails as StorageError, not OSError."""
        store = FilesystemStore(tmp_path)
        await store.put("a/b/c", b"x")
        with pytest.raises(StorageError):
            await store.put("a/b", b"y")


class TestOpenStore:
    @pytest.mark.parametrize("form", ["plain", "file-url"])
    def test_paths_open_filesystem(self, tmp_path: Path, form: str) -> None:
        """A plain path and a file:// URL both open a filesystem store at that path."""
        url = str(tmp_path / "d") if form == "plain" else (tmp_path / "d").as_uri()
        store = open_store(url)
        assert isinstance(store, FilesystemStore)
        assert store.root == (tmp_path / "d").resolve()
        assert store.root.is_dir()

    def test_memory(self) -> None:
        """memory:// opens a memory store."""
        assert isinstance(open_store("memory://"), MemoryStore)

    @pytest.mark.parametrize("url", ["", "ftp://host/x", "file://otherhost/x"])
    def test_bad_urls(self, url: str) -> None:
        """Empty URLs, unknown schemes and remote file URLs are configuration errors."""
        with pytest.raises(ConfigError):
            open_store(url)


class TestGoCommandReadsTheTree:
    async def test_go_list_versions_over_file_url(
        self, tmp_path: Path, go_env: dict[str, str]
    ) -> None:
        """The go command accepts the store's directory as a file:// GOPROXY."""
        store = FilesystemStore(tmp_path / "proxy")
        await store.put("example.com/!hello/@v/list", b"v1.0.0\nv1.1.0\n")
        # go list reads the newest version's go.mod for retractions.
        await store.put("example.com/!hello/@v/v1.1.0.info", b'{"Version":"v1.1.0"}')
        await store.put("example.com/!hello/@v/v1.1.0.mod", b"module example.com/Hello\n")
        env = {**go_env, "GOPROXY": (tmp_path / "proxy").as_uri(), "GO111MODULE": "on"}
        out = subprocess.run(
            ["go", "list", "-m", "-versions", "example.com/Hello"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert out.stdout.strip() == "example.com/Hello v1.0.0 v1.1.0"
