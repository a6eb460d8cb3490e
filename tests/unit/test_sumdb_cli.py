"""``gomodproxy sumdb keygen`` and ``gomodproxy mod verify``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gomodproxy.cli.main import EXIT_USAGE, EXIT_VERIFY, main
from gomodproxy.gomod.sumdbenv import parse_gosumdb
from gomodproxy.localfs.zipfiles import hash_zip
from gomodproxy.sumdb import note
from tests.e2e.fixtures import ModuleVersion


class TestKeygen:
    def test_keygen_writes_a_private_key_and_prints_the_verifier(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The signer key goes to a 0600 file; the verifier key printed matches it and is a
        valid GOSUMDB value; an existing key file is never overwritten."""
        out = tmp_path / "k.key"
        assert main(["sumdb", "keygen", "corp.example/sumdb", "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        signer = note.new_signer(out.read_text().strip())
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert f"verifier key: {signer.verifier().key_string()}" in printed
        spec = parse_gosumdb(signer.verifier().key_string())
        assert spec is not None
        assert spec.name == "corp.example/sumdb"
        assert main(["sumdb", "keygen", "corp.example/sumdb", "--out", str(out)]) == EXIT_USAGE

    def test_keygen_refuses_bad_names(self, tmp_path: Path) -> None:
        """A name that cannot be a GOSUMDB host[/path] is refused before any file is written."""
        out = tmp_path / "k.key"
        assert main(["sumdb", "keygen", "bad name", "--out", str(out)]) != 0
        assert not out.exists()


class TestModVerify:
    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        for var in list(os.environ):
            if var.startswith(("GO", "GOMODPROXY_")):
                monkeypatch.delenv(var)
        monkeypatch.setenv("GOSUMDB", "off")
        monkeypatch.setenv("GOPROXY", "off")
        root = tmp_path / "data"
        mv = ModuleVersion("example.com/a", "v1.0.0", {"a.go": b"package a\n"})
        vdir = root / "example.com" / "a" / "@v"
        vdir.mkdir(parents=True)
        (vdir / "v1.0.0.mod").write_bytes(mv.gomod)
        (vdir / "v1.0.0.zip").write_bytes(mv.zip_bytes())
        (vdir / "v1.0.0.ziphash").write_text(hash_zip(vdir / "v1.0.0.zip"))
        return root

    def test_consistent_store_passes(self, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A store whose zips match their stored hashes verifies."""
        assert main(["mod", "verify", "--storage", str(store)]) == 0
        assert "all 2 stored artifacts verified" in capsys.readouterr().out

    def test_changed_zip_is_reported(self, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A zip changed after it was stored is reported, and the exit code is 3."""
        mv = ModuleVersion("example.com/a", "v1.0.0", {"a.go": b"package a // changed\n"})
        (store / "example.com" / "a" / "@v" / "v1.0.0.zip").write_bytes(mv.zip_bytes())
        assert main(["mod", "verify", "--storage", str(store)]) == EXIT_VERIFY
        out = capsys.readouterr()
        assert "example.com/a@v1.0.0: zip hash h1:" in out.out
        assert "differs from stored h1:" in out.out
