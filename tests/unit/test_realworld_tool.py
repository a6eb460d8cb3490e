"""tools/doctor_realworld.py: the manifest it ships, finding matching, snapshot extraction."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "doctor_realworld", REPO / "tools" / "doctor_realworld.py"
    )
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["doctor_realworld"] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


rw = _tool()


def test_the_committed_manifest_is_consistent() -> None:
    projects = rw.load_manifest(rw.MANIFEST)
    assert len(projects) >= 30
    names = [p.name for p in projects]
    assert len(names) == len(set(names))
    for p in projects:
        assert re.fullmatch(r"[0-9a-f]{40}", p.commit), p.name
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", p.repository), p.name
        for v in p.verdicts:
            assert v.reason.strip(), (p.name, v)
            assert "\n" not in v.reason, (p.name, v)
        # a right finding names a problem (load_manifest checks it exists); no problem id twice
        assert len(p.problems) == len(set(p.problems))


def _finding(code: str, line: int, message: str = "m", severity: str = "warn") -> object:
    return rw.Finding(code, severity, "Dockerfile", line, message)


def _project() -> object:
    proj = rw.Project("p", "o/p", "0" * 40)
    proj.problems = {"real": "a real problem", "missed": "another one"}
    proj.verdicts = [
        rw.Verdict("D01", "Dockerfile", 3, "right", "because", problem="real"),
        rw.Verdict("D03", "Dockerfile", 5, "wrong", "a file name", match="A_FILE"),
        rw.Verdict("D03", "Dockerfile", 5, "right", "a token", match="A_TOKEN", problem="real"),
    ]
    return proj


def test_score_counts_right_wrong_unjudged_and_missed() -> None:
    findings = [
        _finding("D01", 3),
        _finding("D03", 5, "ENV A_FILE carries a secret"),
        _finding("D03", 5, "ENV A_TOKEN carries a secret", "error"),
        _finding("D04", 9),  # no verdict
        _finding("X01", 1, severity="info"),  # info: neither counted nor listed
    ]
    s, lines = rw.score(_project(), findings, verbose=False)
    assert (s.right, s.wrong, s.unjudged, s.known, s.found) == (2, 1, 1, 2, 1)
    assert s.codes == {"D01": [1, 0, 0], "D03": [1, 1, 0], "D04": [0, 0, 1]}
    assert any(line.startswith("  UNJUDGED D04 warn Dockerfile:9") for line in lines)
    assert any(line.startswith("  MISSED   missed:") for line in lines)
    assert "precision  66.7% (2/3)  recall  50.0% (1/2)  unjudged 1" in s.line()


def test_a_verdict_with_match_does_not_judge_other_messages() -> None:
    s, _ = rw.score(_project(), [_finding("D03", 5, "ENV B_KEY carries a secret")], False)
    assert (s.right, s.wrong, s.unjudged) == (0, 0, 1)


def test_load_manifest_refuses_a_right_verdict_without_a_known_problem(tmp_path: Path) -> None:
    doc = {
        "projects": [
            {
                "project": "p",
                "repository": "o/p",
                "commit": "0" * 40,
                "problems": [],
                "findings": [
                    {"code": "D01", "file": "f", "line": 1, "verdict": "right", "reason": "r"}
                ],
            }
        ]
    }
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="names no known problem"):
        rw.load_manifest(path)
    doc["projects"][0]["findings"][0]["verdict"] = "maybe"  # type: ignore[index]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="right or wrong"):
        rw.load_manifest(path)


def test_wanted_paths_keeps_the_doctors_inputs() -> None:
    names = [
        "Dockerfile",
        "build/buildx.Dockerfile",
        "dockerfiles/Dockerfile-for-frpc",
        "ci/Dockerfile.release.dockerignore",
        ".github/workflows/ci.yml",
        ".github/actions/setup/action.yaml",
        "sub/go.mod",
        "sub/go.sum",
        "vendor/modules.txt",
        "main.go",
        "docs/config.yaml",
    ]
    assert rw.wanted_paths(names) == names[:9]
    assert "docs/config.yaml" in rw.wanted_paths([*names, ".gitlab-ci.yml"])


def test_run_without_snapshots_says_so_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rw.main(["--snapshots", str(tmp_path / "none")]) == 0
    assert "no snapshots under" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_extract_then_run_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    (work / "cmd").mkdir(parents=True)
    (work / "Dockerfile").write_text("FROM scratch\n")
    (work / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
    (work / "cmd" / "main.go").write_text("package main\n")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(work), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x")
    commit = git("rev-parse", "HEAD")
    mirrors = tmp_path / "mirrors"
    mirrors.mkdir()
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(mirrors / "o+p" / "repo")], check=True
    )
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps(
            {
                "projects": [
                    {
                        "project": "p",
                        "repository": "o/p",
                        "commit": commit,
                        "problems": [{"id": "real", "what": "it is real"}],
                        "findings": [
                            {
                                "code": "D01",
                                "file": "Dockerfile",
                                "line": 1,
                                "verdict": "right",
                                "reason": "r",
                                "problem": "real",
                            }
                        ],
                    }
                ]
            }
        )
    )
    snaps = tmp_path / "snaps"
    common = ["--manifest", str(manifest), "--snapshots", str(snaps)]
    assert rw.main(["extract", *common, "--mirrors", str(mirrors)]) == 0
    kept = sorted(str(p.relative_to(snaps / "p")) for p in (snaps / "p").rglob("*"))
    assert kept == [".commit", "Dockerfile", "go.mod"]

    # A stand-in doctor: one judged finding, one that is not, one outside the tree.
    fake = tmp_path / "fake_doctor.py"
    fake.write_text(
        "import json, sys\n"
        "tree = sys.argv[-1]\n"
        "df = tree + '/Dockerfile'\n"
        "fs = [dict(code='D01', severity='warn', file=df, line=1, message='m'),\n"
        "      dict(code='D02', severity='error', file=df, line=1, message='n'),\n"
        "      dict(code='R01', severity='warn', file='/elsewhere', line=1, message='o')]\n"
        "print(json.dumps({'findings': fs, 'contexts': {}}))\n"
    )
    capsys.readouterr()
    rc = rw.main(["run", *common, "--doctor", f"{sys.executable} {fake}"])
    out = capsys.readouterr().out
    assert rc == 1  # an unjudged finding
    assert "UNJUDGED D02 error Dockerfile:1: n" in out
    assert "R01" not in out
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert "precision 100.0% (1/1)  recall 100.0% (1/1)  unjudged 1" in total
