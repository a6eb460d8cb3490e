"""The layers of ARCHITECTURE.md are enforced: the import contracts in pyproject.toml (run by
``make lint``) hold, fail when a forbidden import is added, and a server worker never loads the
doctor or PyYAML."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the package under ``root/src``, with ``root/pyproject.toml``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package and its contracts, to add bad imports to."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        ROOT / "src" / "gomodproxy",
        root / "src" / "gomodproxy",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return root


def test_every_top_level_module_has_a_layer() -> None:
    """A new module or package at the top of gomodproxy/ gets a place in the layers, so the
    contracts see it (no grab-bag modules outside them)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    placed = {name.strip() for line in layers for name in line.split("|")}
    package = ROOT / "src" / "gomodproxy"
    found = {
        p.stem if p.is_file() else p.name
        for p in package.iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").exists()) and p.name != "__pycache__"
    }
    beside = {"__init__", "__main__", "doctor"}
    assert found - beside == placed


def test_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract", "reported"),
    [
        # A port reaching up into the HTTP server.
        (
            "ports/source.py",
            "import gomodproxy.server.app",
            "Imports go down the layers only",
            "gomodproxy.ports.source -> gomodproxy.server.app",
        ),
        # Two adapters on one layer may not know each other.
        (
            "storage/memory.py",
            "import gomodproxy.sources.proxy",
            "Imports go down the layers only",
            "gomodproxy.storage.memory -> gomodproxy.sources.proxy",
        ),
        # Operations importing the CLI (the old ops/admin -> cli cycle).
        (
            "ops/admin.py",
            "import gomodproxy.cli.main",
            "Imports go down the layers only",
            "gomodproxy.ops.admin -> gomodproxy.cli.main",
        ),
        (
            "doctor/codes.py",
            "import gomodproxy.service.proxy",
            "The doctor imports nothing of the server side",
            "gomodproxy.doctor.codes -> gomodproxy.service.proxy",
        ),
        (
            "redact/secrets.py",
            "import gomodproxy.doctor.codes",
            "The server side imports neither the doctor nor PyYAML",
            "gomodproxy.redact.secrets -> gomodproxy.doctor.codes",
        ),
        (
            "server/http_errors.py",
            "import yaml",
            "The server side imports neither the doctor nor PyYAML",
            "gomodproxy.server.http_errors -> yaml",
        ),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    copy_root: Path, module: str, bad_import: str, contract: str, reported: str
) -> None:
    target = copy_root / "src" / "gomodproxy" / module
    original = target.read_text()
    try:
        target.write_text(f"{original}\n{bad_import}  # noqa: E402\n")
        result = _lint_imports(copy_root)
    finally:
        target.write_text(original)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
    assert reported in result.stdout
    assert "1 broken" in result.stdout


def test_the_copy_is_clean_without_the_bad_import(copy_root: Path) -> None:
    """The failures above come from the added import, not from the copy."""
    result = _lint_imports(copy_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_server_worker_loads_neither_the_doctor_nor_yaml() -> None:
    """What a worker imports to serve (the ASGI entry of ``serve``, its HTTP servers' glue)."""
    from gomodproxy.cli.cmd_serve import APP

    module, _, attr = APP.partition(":")
    probe = (
        "import importlib, sys\n"
        f"app = getattr(importlib.import_module({module!r}), {attr!r})\n"
        "import gomodproxy.server.serving\n"
        "loaded = sorted(m for m in sys.modules if m == 'yaml' or m.startswith(('yaml.', "
        "'gomodproxy.doctor')))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == ""
    assert module == "gomodproxy.compose"
