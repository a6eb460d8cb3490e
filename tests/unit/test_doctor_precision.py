"""The doctor on the shapes of real CI files: the shell reader of run steps, secret and Go
setting names, discovery of Dockerfiles, and hostile inputs (alias bombs, thousands of chained
stages, symlinks out of the checked tree, a reader that closes the pipe)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gomodproxy.doctor import Options, dockerfile, run, shellscript
from gomodproxy.doctor.names import meant_setting
from gomodproxy.doctor.secretnames import is_secret_name
from gomodproxy.doctor.yamlsrc import MAX_NODES, YamlProblem, load

CORPUS = Path(__file__).resolve().parents[1] / "doctor_corpus"


def _run(path: Path, tmp: Path) -> list[tuple[str, str, str]]:
    report = run(Options(paths=[path], root=tmp / "no-root", run_go=False))
    return [(f.code, f.file, f.message) for f in report.findings]


class TestShellScript:
    def test_assignments_exports_and_go_commands(self) -> None:
        cmds = shellscript.commands(
            "export GOPROXY=https://p.example,direct && GOSUMDB=off go test ./...\n"
            'if [ -n "$X" ]; then /usr/local/go/bin/go build -o app .; fi  # build\n'
            "go env GOPATH\n"
        )
        assert shellscript.exported(cmds[0]) == [("GOPROXY", "https://p.example,direct")]
        assert cmds[1].assigns == [("GOSUMDB", "off")]
        assert [c.go_subcommand() for c in cmds] == ["", "test", "", "build", "env"]
        assert [c.line for c in cmds if c.go_subcommand()] == [0, 1, 2]
        assert not cmds[-1].fetches()

    def test_github_env_appends(self) -> None:
        script = (
            'echo "GOPRIVATE=git.corp.example" >> "$GITHUB_ENV"\n'
            "echo 'GOFLAGS=-mod=mod' | tee -a $GITHUB_ENV\n"
            "cat <<EOF >> ${GITHUB_ENV}\nGONOSUMDB=git.corp.example\nEOF\n"
            'printf "GOTOOLCHAIN=%s\\n" local >> "$GITHUB_ENV"\n'
            "echo GOPROXY=off > out.txt\n"
        )
        pairs = [
            p
            for c in shellscript.commands(script)
            for p in shellscript.env_file_pairs(shellscript.file_appends(c))
        ]
        assert pairs == [
            ("GOPRIVATE", "git.corp.example"),
            ("GOFLAGS", "-mod=mod"),
            ("GONOSUMDB", "git.corp.example"),
            ("GOTOOLCHAIN", "local"),
        ]

    def test_go_env_w_and_credentials(self) -> None:
        (w, g) = shellscript.commands(
            "go env -w GOPRIVATE=a.example GOFLAGS=-mod=mod\n"
            'git config --global url."https://x:${GH_PAT}@github.com/".insteadOf https://github.com/'
        )
        assert shellscript.go_env_writes(w) == [("GOPRIVATE", "a.example"), ("GOFLAGS", "-mod=mod")]
        assert shellscript.credential_refs(g) == ["GH_PAT"]

    @pytest.mark.parametrize(
        "script",
        ["case $x in a) go build;; esac", "[[ $x == y ]] && go build", 'echo "$(', "'", "<<", ")"],
    )
    def test_never_fails(self, script: str) -> None:
        """Compound commands bashlex rejects, and broken quoting, still give commands."""
        shellscript.commands(script)


def test_secret_names_are_whole_words() -> None:
    for name in ("GITHUB_TOKEN", "GITHUB_PASS", "NPM_AUTH_TOKEN", "SSH_PRIVATE_KEY", "GIT_AUTH"):
        assert is_secret_name(name), name
    for name in ("AUTHOR", "OAUTH_CALLBACK_URL", "NETRC_FILE", "TOKEN_PATH", "GPG_KEY", "GOAUTH"):
        assert not is_secret_name(name), name
    for name in ("GF_AUTH_ANONYMOUS_ENABLED", "SESSION_TOKEN_COOKIE_NAME", "AUTH_MODE"):
        assert not is_secret_name(name), name


def test_go_setting_names() -> None:
    assert meant_setting("GONOSUMCHECK") == "GONOSUMDB"
    assert meant_setting("GO_PRIVATE") == "GOPRIVATE"
    assert meant_setting("GOPROXY_URL") == "GOPROXY"
    assert meant_setting("GOPRIAVTE") == "GOPRIVATE"
    for name in ("GOPROXY", "GOPATH", "GOARCH", "GOLANG_VERSION", "GOMAXPROCS", "GITHUB_TOKEN"):
        assert meant_setting(name) is None, name


def test_discovery_reads_every_dockerfile(tmp_path: Path) -> None:
    """Hidden directories, build/, deep trees and names like Dockerfile-for-frpc are read."""
    report = run(Options(paths=[CORPUS / "discovery_names"], root=tmp_path, run_go=False))
    files = {Path(c.file).relative_to(CORPUS / "discovery_names") for c in report.contexts[1:]}
    assert files == {
        Path(".github/workflows/release/Dockerfile"),
        Path("build/package/Dockerfile"),
        Path("a/b/c/d/e/f/Dockerfile"),
        Path("docker/Dockerfile-for-frpc"),
        Path("docker/buildx.Dockerfile"),
    }


def test_heredocs_tabs_and_bom() -> None:
    p = dockerfile.parse(
        "\ufeffFROM golang\nRUN << EOF\ngo build\nEOF\nRUN\tgo vet\nRUN <<-X\n\tgo test\n\tX\n"
    )
    assert p.problems == []
    assert [(i.cmd, i.heredocs) for i in p.instructions] == [
        ("FROM", []),
        ("RUN", ["go build"]),
        ("RUN", []),
        ("RUN", ["go test"]),
    ]
    assert p.instructions[2].args == "go vet"
    quoted = dockerfile.parse('FROM x\nRUN echo "a << b" && go build\nRUN go vet\n')
    assert [i.heredocs for i in quoted.instructions] == [[], [], []]


def test_alias_bomb_is_x01(tmp_path: Path) -> None:
    """Nested aliases ("billion laughs") stop at MAX_NODES values with an X01 finding."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(9):
        prev, cur = chr(97 + i), chr(98 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    text = "\n".join(lines) + "\n"
    assert len(text) < 700
    with pytest.raises(YamlProblem, match=str(MAX_NODES)):
        load(text)
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text("on: push\njobs:\n  j:\n    steps: []\n" + text)
    (tmp_path / ".gitlab-ci.yml").write_text(text)
    found = _run(tmp_path, tmp_path)
    assert {(c, Path(f).name) for c, f, _ in found} == {
        ("X01", "ci.yml"),
        ("X01", ".gitlab-ci.yml"),
    }


def test_chained_stages_end_with_x01(tmp_path: Path) -> None:
    """20,000 stages, each appending to GOPROXY: values and stages are cut with X01 findings,
    so the work stays bounded by the limits instead of growing with the square of the file."""
    lines = ["FROM golang:1.22.3 AS s0", "ENV GOPROXY=https://p0.example"]
    for i in range(1, 20000):
        lines += [f"FROM s{i - 1} AS s{i}", f"ENV GOPROXY=$GOPROXY,https://p{i}.example"]
    lines.append("RUN go build ./...")
    (tmp_path / "Dockerfile").write_text("\n".join(lines) + "\n")
    x01 = sorted(m for c, _, m in _run(tmp_path, tmp_path) if c == "X01")
    assert x01 == [
        f"Dockerfile: more than {dockerfile.MAX_STAGES} stages; the stages from line "
        f"{2 * dockerfile.MAX_STAGES + 1} on are not evaluated",
        f"Dockerfile: more than {dockerfile.MAX_INSTRUCTIONS} instructions; the rest is not read",
        f"Dockerfile: the value of GOPROXY grows past {dockerfile.MAX_VALUE} bytes; it is cut "
        "there",
    ]


def test_symlinks_out_of_the_tree_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("OUTSIDEWORD x\nFROM golang:1.22\nARG GITHUB_TOKEN\n")
    (outside / "go.mod").write_text("module example.com/leak\n\ngo 1.99.0\n")
    (outside / "ci.yml").write_text("jobs:\n  j:\n    env: {GO_PRIVATE: leak}\n")
    proj = tmp_path / "proj"
    (proj / ".github" / "workflows").mkdir(parents=True)
    (proj / "Dockerfile").symlink_to(outside / "Dockerfile")
    (proj / "Containerfile").symlink_to("/etc/passwd")
    (proj / "linked").symlink_to(outside, target_is_directory=True)
    (proj / "go.mod").symlink_to(outside / "go.mod")
    (proj / ".github" / "workflows" / "ci.yml").symlink_to(outside / "ci.yml")
    (proj / ".gitlab-ci.yml").write_text(
        "include:\n  - local: ../outside/ci.yml\nt:\n  script: [go build]\n"
    )
    (proj / "sub").mkdir()
    (proj / "sub" / "real").write_text("FROM golang:1.22.3\nRUN go vet ./...\n")
    (proj / "sub" / "Dockerfile").symlink_to("real")
    report = run(Options(paths=[proj], root=tmp_path / "no-root", run_go=False))
    text = repr([f.to_json() for f in report.findings]) + repr([c.name for c in report.contexts])
    for word in ("OUTSIDEWORD", "root:", "leak", "GITHUB_TOKEN"):
        assert word not in text
    assert sorted(Path(c.file).name for c in report.contexts if c.file) == [
        ".gitlab-ci.yml",
        "Dockerfile",
    ]


def test_diagnose_reader_gone_exits_cleanly() -> None:
    """`gomodproxy diagnose - | head -1`: a closed pipe ends the command without a traceback."""
    log = "go: reading https://127.0.0.1/x/@v/list: 404 Not Found\n" * 2000
    r, w = os.pipe()
    os.close(r)
    try:
        res = subprocess.run(
            [sys.executable, "-m", "gomodproxy", "diagnose", "-"],
            input=log.encode(),
            stdout=w,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        os.close(w)
    assert res.stderr == b""
    assert res.returncode == 0
