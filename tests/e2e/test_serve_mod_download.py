"""``gomodproxy mod download --json`` against ``go mod download -json`` on the same upstream."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from tests.e2e.fixtures import ModuleVersion, go, parse_json_stream, write_module
from tests.e2e.test_serve import go_env

pytestmark = pytest.mark.e2e

MODULES = [
    ModuleVersion("dl.test/m", "v1.0.0", {"m.go": b"package m\n"}),
    ModuleVersion("dl.test/m", "v1.1.0", {"m.go": b"package m // 1.1\n"}),
    ModuleVersion("dl.test/m", "v1.2.0-pre", {"m.go": b"package m // pre\n"}),
    ModuleVersion("dl.test/Big", "v2.0.0+incompatible", {"b.go": b"package b\n"}),
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for mv in MODULES:
        write_module(root, mv)
    return root


def test_json_fields_equal_the_go_command(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version, Query, Sum and GoModSum agree with go mod download -json; files exist."""
    targets = ["dl.test/m@latest", "dl.test/m@v1.0.0", "dl.test/Big@v2.0.0+incompatible"]
    monkeypatch.setenv("GOPROXY", tree.as_uri())
    monkeypatch.setenv("GOSUMDB", "off")
    cache = tmp_path / "cache"
    assert main(["mod", "download", "--json", "--cache", str(cache), *targets]) == 0
    out = capsys.readouterr().out
    assert out.startswith('{\n\t"Path": "dl.test/m",\n\t"Version": "v1.1.0",\n\t"Query": "latest",')
    ours = parse_json_stream(out)
    for obj in ours:
        for field in ("Info", "GoMod", "Zip"):
            assert Path(str(obj[field])).is_file()
            assert str(obj[field]).startswith(str(cache))
    if shutil.which("go") is None:
        pytest.skip("the go command is not installed: compared only among ourselves")
    res = go(
        go_env(tmp_path / "go", tree.as_uri()), "mod", "download", "-json", *targets, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    theirs = parse_json_stream(res.stdout)
    keys = ("Path", "Version", "Query", "Sum", "GoModSum")
    assert [{k: o.get(k) for k in keys} for o in ours] == [
        {k: o.get(k) for k in keys} for o in theirs
    ]


def test_failures_exit_1_with_error_field(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing version gives an Error object and exit status 1; the others still download."""
    monkeypatch.setenv("GOPROXY", tree.as_uri())
    monkeypatch.setenv("GOSUMDB", "off")
    code = main(
        [
            "mod",
            "download",
            "--json",
            "--cache",
            str(tmp_path / "c"),
            "dl.test/m@v9.0.0",
            "dl.test/m@v1.0.0",
        ]
    )
    assert code == 1
    objs = parse_json_stream(capsys.readouterr().out)
    assert objs[0]["Path"] == "dl.test/m"
    assert "not found" in str(objs[0]["Error"])
    assert "Error" not in objs[1]
    assert str(objs[1]["Sum"]).startswith("h1:")
