"""diagnose: ordering of causes, server responses, masking, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.doctor.diagnose import KB, diagnose

# Shapes of real go output (the exact texts are proven in tests/e2e/test_diagnose_real_go.py).
LOG = (
    "go: downloading example.com/private v1.2.0\n"
    "go: example.com/private@v1.2.0: reading https://user:hunter2@goproxy.example/example.com/"
    "private/@v/v1.2.0.info: 404 Not Found\n"
    "\tserver response:\n"
    "\t\tnot found: example.com/private@v1.2.0: git ls-remote -q origin: exit status 128:\n"
    "\t\t\tfatal: could not read Username for 'https://example.com': terminal prompts disabled\n"
)


def test_inner_cause_first_and_masked() -> None:
    """The cause in the server response comes first; credentials are masked."""
    found = diagnose(LOG)
    assert [d.entry.code for d in found] == ["K11", "K05"]
    assert all("hunter2" not in t for d in found for _, t in d.lines)
    assert found[1].lines[0][0] == 2


def test_priority_order() -> None:
    """Without a server response, the spec's priority applies (K15 before K05...)."""
    log = (
        "go: a@v1: reading https://p.example/a/@v/v1.zip: 404 Not Found\n"
        "verifying b@v1: b@v1: reading https://sum.golang.org/lookup/b@v1: 404 Not Found\n"
    )
    assert [d.entry.code for d in diagnose(log)] == ["K15", "K05"]


def test_codes_are_unique_and_complete() -> None:
    """K01..K31, each once."""
    assert [e.code for e in sorted(KB, key=lambda e: e.code)] == [f"K{i:02}" for i in range(1, 32)]


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """diagnose reads a file; exit 0 with causes, 1 without; JSON output."""
    log = tmp_path / "build.log"
    log.write_text(LOG)
    assert main(["diagnose", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("K11 ")
    assert "fix:" in out
    assert main(["diagnose", str(log), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["causes"][0]["code"] == "K11"
    log.write_text("ok\n")
    assert main(["diagnose", str(log)]) == 1
    capsys.readouterr()
