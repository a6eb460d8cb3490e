"""The pure cores (gomod/, sumdb/, redact/) must not do I/O: no sockets, files, processes, clocks,
environment or asyncio. This test reads their imports and a few forbidden names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "gomodproxy"
PURE_PACKAGES = ["gomod", "sumdb", "redact"]
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


#: Clock reads through datetime/date objects (``datetime.now()``), which need no forbidden import.
FORBIDDEN_METHODS = {"now", "today", "utcnow"}


def impurities(source: str, name: str) -> list[str]:
    """What in ``source`` does I/O: forbidden imports, calls, clock reads, environment reads."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for imported in names:
            if imported.split(".")[0] in FORBIDDEN_MODULES or imported in FORBIDDEN_MODULES:
                found.append(f"{name}:{node.lineno} imports {imported}")
        call = node.func if isinstance(node, ast.Call) else None
        if isinstance(call, ast.Name) and call.id in FORBIDDEN_CALLS:
            found.append(f"{name}:{node.lineno} calls {call.id}()")
        if isinstance(call, ast.Attribute) and call.attr in FORBIDDEN_METHODS:
            found.append(f"{name}:{node.lineno} reads the clock with .{call.attr}()")
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            found.append(f"{name}:{node.lineno} reads an environment")
    return found


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_does_no_io(path: Path) -> None:
    assert impurities(path.read_text(), path.name) == []


def test_purity_covers_every_core() -> None:
    """Every module of gomod/, sumdb/ and redact/ is checked, private helpers included."""
    names = {str(p.relative_to(SRC)) for p in pure_files()}
    assert {"gomod/semver.py", "gomod/_neturl.py", "gomod/coderepo.py"} <= names
    assert any(n.startswith("sumdb/") for n in names)
    assert {"redact/mask.py", "redact/secrets.py"} <= names


@pytest.mark.parametrize(
    ("snippet", "why"),
    [
        ("import os.path", "imports os.path"),
        ("from time import monotonic", "imports time"),
        ("import urllib.request", "imports urllib.request"),
        ("print(1)", "calls print()"),
        ("from datetime import datetime\nt = datetime.now()", "reads the clock with .now()"),
        ("import datetime\nd = datetime.date.today()", "reads the clock with .today()"),
        ("x = environ_holder.environ", "reads an environment"),
    ],
)
def test_checker_finds(snippet: str, why: str) -> None:
    """The checker itself reports each kind of impurity."""
    assert [p.split(" ", 1)[1] for p in impurities(snippet, "x.py")] == [why]
