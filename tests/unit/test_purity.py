"""The pure cores (gomod/, sumdb/) must not do I/O: no sockets, files, processes, clocks,
environment or asyncio. This test reads their imports and a few forbidden names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "gomodproxy"
PURE_PACKAGES = ["gomod", "sumdb"]
FORBIDDEN_MODULES = {
    "os",
    "io",
    "socket",
    "subprocess",
    "asyncio",
    "time",
    "shutil",
    "pathlib",
    "tempfile",
    "httpx",
    "urllib.request",
    "http",
    "threading",
    "multiprocessing",
    "random",
    "select",
    "signal",
    "sys",
}
FORBIDDEN_CALLS = {"open", "input", "print", "exec", "eval", "__import__"}


def pure_files() -> list[Path]:
    return sorted(p for pkg in PURE_PACKAGES for p in (SRC / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            root = name.split(".")[0]
            assert root not in FORBIDDEN_MODULES, f"{path.name}:{node.lineno} imports {name}"
            assert name not in FORBIDDEN_MODULES, f"{path.name}:{node.lineno} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, (
                f"{path.name}:{node.lineno} calls {node.func.id}()"
            )
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            raise AssertionError(f"{path.name}:{node.lineno} reads an environment")
