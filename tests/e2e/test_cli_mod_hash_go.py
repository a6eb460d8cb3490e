"""`gomodproxy mod zip` and `mod hash` against the real go command.

A module tree is zipped by our CLI into a file:// GOPROXY tree; the go command downloads it
from there (checking the zip as it extracts it) and reports Sum and GoModSum, which must be
what `gomodproxy mod hash` prints for the same files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gomodproxy.gomod.module import escape_path

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

MODULE = "example.com/Mixed/m"
VERSION = "v1.2.0"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run our console entry point the way a user would."""
    return subprocess.run(
        [sys.executable, "-m", "gomodproxy", *args], capture_output=True, text=True, timeout=60
    )


def write_module(d: Path) -> None:
    """A module with a subpackage, a LICENSE, a non-ASCII name and what the zip must leave out."""
    files = {
        "go.mod": f"module {MODULE}\n\ngo 1.21\n",
        "m.go": "package m\n\nconst X = 1\n",
        "LICENSE": "MIT\n",
        "sub/s.go": "package sub\n",
        "sub/testdata/ü.txt": "data\n",
        "nested/go.mod": "module example.com/other\n",  # a nested module: excluded
        "nested/n.go": "package n\n",
        ".git/config": "[core]\n",  # VCS directory: excluded
    }
    for name, text in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_mod_hash_equals_go_mod_download_sum(tmp_path: Path, go_env: dict[str, str]) -> None:
    """Sum and GoModSum of `go mod download -json` equal `mod hash` of our zip and go.mod."""
    src = tmp_path / "src"
    write_module(src)
    vdir = tmp_path / "proxy" / escape_path(MODULE) / "@v"
    vdir.mkdir(parents=True)
    zip_path = vdir / f"{VERSION}.zip"
    made = cli(
        "mod", "zip", "--module", MODULE, "--version", VERSION, "-o", str(zip_path), str(src)
    )
    assert made.returncode == 0, made.stderr
    (vdir / f"{VERSION}.mod").write_bytes((src / "go.mod").read_bytes())
    (vdir / f"{VERSION}.info").write_text(
        json.dumps({"Version": VERSION, "Time": "2024-01-02T03:04:05Z"})
    )
    (vdir / "list").write_text(VERSION + "\n")

    env = dict(go_env, GOPROXY=(tmp_path / "proxy").as_uri(), GOFLAGS="-modcacherw")
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(proc.stdout)
    assert got.get("Error") is None

    zip_hash = cli("mod", "hash", str(zip_path))
    mod_hash = cli("mod", "hash", "--gomod", str(vdir / f"{VERSION}.mod"))
    assert (zip_hash.returncode, mod_hash.returncode) == (0, 0), zip_hash.stderr + mod_hash.stderr
    assert zip_hash.stdout == got["Sum"] + "\n"
    assert mod_hash.stdout == got["GoModSum"] + "\n"

    # The go command extracted exactly the files the zip selection kept.
    extracted = Path(got["Dir"])
    names = sorted(p.relative_to(extracted).as_posix() for p in extracted.rglob("*") if p.is_file())
    assert names == ["LICENSE", "go.mod", "m.go", "sub/s.go", "sub/testdata/ü.txt"]
