from __future__ import annotations

import subprocess
import sys

from gomodproxy.cli.main import main


def test_help_lists_usage(capsys: object) -> None:
    assert main([]) == 0


def test_python_dash_m_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gomodproxy", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith("gomodproxy ")
