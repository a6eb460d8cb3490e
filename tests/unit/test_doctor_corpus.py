"""The doctor over tests/doctor_corpus/: each broken configuration makes its rule fire, and
the correct ones give no error and no warning.

A case is a directory: project files (Dockerfile, .github/workflows, .gitlab-ci.yml, go.mod),
an optional ``env`` file (the environment, as ``--env-file``), an optional ``root/`` (read
instead of ``/`` for /etc and $GOROOT), and ``expect.json``: ``fires`` lists the codes that
must fire, and no other code may report a warning or an error (a false positive fails the case
as a missed finding does); ``severity`` optionally pins the highest severity a code reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gomodproxy.doctor import Options, Report, Severity, run
from gomodproxy.doctor.codes import CODES
from gomodproxy.doctor.collect import read_env_file

CORPUS = Path(__file__).resolve().parents[1] / "doctor_corpus"
CASES = sorted(p for p in CORPUS.iterdir() if (p / "expect.json").is_file())
#: codes only a probe (network) or a live go command can produce.
NOT_IN_CORPUS = {"R14", "P01", "P02", "X02"}


def doctor(case: Path) -> Report:
    """Run the doctor on one corpus case, isolated from this machine."""
    env_file = case / "env"
    env = read_env_file(env_file) if env_file.is_file() else {}
    root = case / "root"
    return run(
        Options(
            paths=[case],
            root=root if root.is_dir() else case / "no-root",
            env=env,
            env_file=env_file if env_file.is_file() else None,
            run_go=False,
        )
    )


def expected(case: Path) -> list[str]:
    return list(json.loads((case / "expect.json").read_text())["fires"])


def severities(case: Path) -> dict[str, str]:
    return dict(json.loads((case / "expect.json").read_text()).get("severity", {}))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_corpus_case(case: Path) -> None:
    """Each case reports its codes, and no other warning or error."""
    report = doctor(case)
    codes = {f.code for f in report.findings}
    want = expected(case)
    detail = "\n".join(
        f"{f.code} {f.severity} {f.file}:{f.line} {f.message}" for f in report.findings
    )
    assert set(want) <= codes, detail
    loud = {f.code for f in report.findings if f.severity >= Severity.WARN}
    assert loud <= set(want), detail
    for code, sev in severities(case).items():
        assert str(max(f.severity for f in report.findings if f.code == code)) == sev, detail


def test_every_code_has_a_broken_case() -> None:
    """Each finding code the doctor defines fires in at least one corpus case."""
    covered = {c for case in CASES for c in expected(case)}
    assert set(CODES) - NOT_IN_CORPUS - covered == set()


def test_findings_point_at_files_and_lines() -> None:
    """Findings of a broken Dockerfile carry the file and the line of the culprit."""
    report = doctor(CORPUS / "d05_per_build_arg")
    (d05,) = [f for f in report.findings if f.code == "D05"]
    text = (CORPUS / "d05_per_build_arg" / "Dockerfile").read_text().splitlines()
    assert text[d05.line - 1] == "ARG GIT_COMMIT"


def test_secrets_are_masked() -> None:
    """No finding, and no effective setting in the JSON output, shows a password."""
    from gomodproxy.doctor.report import to_json, to_sarif, to_text

    for name in ("r06_userinfo", "d03_userinfo"):
        report = doctor(CORPUS / name)
        for out in (
            to_json(report.findings, report.contexts),
            to_text(report.findings, report.contexts),
            to_sarif(report.findings),
        ):
            assert "s3cret" not in out
