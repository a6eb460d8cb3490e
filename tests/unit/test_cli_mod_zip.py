"""``gomodproxy mod zip`` and ``gomodproxy mod hash`` on the command line."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gomodproxy.cli.main import main

GOOD_HASH = "h1:fCHMqo5ggHEQvwcrsN81zr5orRk5lClR36KRHpfUjKg="


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "go.mod").write_text("module example.com/m\n")
    (d / "m.go").write_text("package m\n")
    return d


class TestModZip:
    def test_writes_zip_and_prints_hash(
        self, module_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The zip is written where -o says and its h1 is printed on stdout."""
        out = tmp_path / "m.zip"
        args = ["mod", "zip", "--module", "example.com/m", "--version", "v1.0.0"]
        assert main([*args, "-o", str(out), str(module_dir)]) == 0
        assert capsys.readouterr().out == GOOD_HASH + "\n"
        with zipfile.ZipFile(out) as z:
            assert sorted(z.namelist()) == [
                "example.com/m@v1.0.0/go.mod",
                "example.com/m@v1.0.0/m.go",
            ]

    def test_default_output_name(
        self, module_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without -o the zip is VERSION.zip in the current directory, as a proxy names it."""
        monkeypatch.chdir(tmp_path)
        args = ["mod", "zip", "--module", "example.com/m", "--version", "v1.0.0"]
        assert main([*args, str(module_dir)]) == 0
        assert (tmp_path / "v1.0.0.zip").is_file()

    def test_invalid_tree_exits_1_with_gos_message(self, module_dir: Path, tmp_path: Path) -> None:
        """An invalid file name exits 1 with Go's message and no traceback."""
        (module_dir / "bad.go'").write_text("")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "gomodproxy",
                "mod",
                "zip",
                "--module",
                "example.com/m",
                "--version",
                "v1.0.0",
                "-o",
                str(tmp_path / "x.zip"),
                str(module_dir),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 1
        assert proc.stderr == (
            f"gomodproxy: create zip {module_dir}: bad.go': malformed file path "
            "\"bad.go'\": invalid char '\\''\n"
        )
        assert not (tmp_path / "x.zip").exists()

    def test_bad_version(self, module_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A non-canonical version is refused with Go's message."""
        args = ["mod", "zip", "--module", "example.com/m", "--version", "v1"]
        assert main([*args, "-o", "/nonexistent/x.zip", str(module_dir)]) == 1
        assert capsys.readouterr().err == (
            f'gomodproxy: create zip {module_dir}: version "v1" is not canonical '
            '(should be "v1.0.0")\n'
        )

    def test_unwritable_output(
        self, module_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An output path in a missing directory fails cleanly with exit 1."""
        args = ["mod", "zip", "--module", "example.com/m", "--version", "v1.0.0"]
        assert main([*args, "-o", str(tmp_path / "no" / "x.zip"), str(module_dir)]) == 1
        assert "No such file or directory" in capsys.readouterr().err


class TestModHash:
    def test_zip(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """mod hash prints the h1 of a zip."""
        z = tmp_path / "m.zip"
        with zipfile.ZipFile(z, "w") as zw:
            zw.writestr("example.com/m@v1.0.0/go.mod", "module example.com/m\n")
            zw.writestr("example.com/m@v1.0.0/m.go", "package m\n")
        assert main(["mod", "hash", str(z)]) == 0
        assert capsys.readouterr().out == GOOD_HASH + "\n"

    def test_gomod(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """mod hash --gomod prints the go.sum /go.mod hash."""
        f = tmp_path / "go.mod"
        f.write_text("module example.com/m\n")
        assert main(["mod", "hash", "--gomod", str(f)]) == 0
        assert capsys.readouterr().out == "h1:flS2VctbRrTv+sBE+VKgxx6hlkMGPVz9MGOmzMYFg3k=\n"

    def test_missing_and_garbage(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing file or a non-zip exits 1 with one line, no traceback."""
        assert main(["mod", "hash", str(tmp_path / "none.zip")]) == 1
        assert capsys.readouterr().err.endswith("none.zip: No such file or directory\n")
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"garbage")
        assert main(["mod", "hash", str(bad)]) == 1
        assert capsys.readouterr().err == "gomodproxy: zip: not a valid zip file\n"
