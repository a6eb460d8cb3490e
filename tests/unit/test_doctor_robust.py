"""The doctor never crashes on a user's file: arbitrary text through every parser, and odd
files (binary, empty, not UTF-8, directories named like files) through the collectors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gomodproxy.doctor import Options, dockerfile, github, gitlab, rules, run, system
from gomodproxy.doctor.yamlsrc import YamlProblem, load

# Lines of the grammars, glued with noise, so that real structure appears often.
_SNIPPETS = [
    "FROM golang:1.22 AS b\n",
    "FROM b\n",
    "FROM ${IMG}\n",
    "ARG GOPROXY\n",
    "ARG X=${Y:-z}\n",
    'ENV A=$X B="c d"\n',
    "ENV K V W\n",
    "RUN go mod download \\\n",
    "RUN <<EOF\n",
    "EOF\n",
    "COPY go.mod ./\n",
    "\\\n",
    "\n",
    "# escape=`\n",
    "RUN go env -w GOFLAGS=-mod=mod\n",
    "jobs:\n",
    "  j:\n",
    "    env: {GOPRIVATE: a}\n",
    "    steps:\n",
    "      - run: go build\n",
    '      - run: echo "GOPROXY=x" >> $GITHUB_ENV\n',
    "variables:\n",
    "  GOPROXY: x\n",
    "  extends: .t\n",
    ".t:\n",
    "include: {local: a.yml}\n",
    "<<: *a\n",
    "&a\n",
    "[Service]\n",
    'Environment="A=b c" GOFLAGS=-v\n',
    "Environment=\n",
    "export GOPROXY=$(x)\n",
    "GOPROXY=,\n",
    "GOSUMDB=a b c\n",
    "GOVCS=x\n",
    "GOFLAGS='-x\n",
]
_NOISE = st.text(st.sampled_from(list("${}=:-\\\"'`\t#<>|&;@/.,*[] \n")), max_size=8)
TEXT = st.lists(st.sampled_from(_SNIPPETS) | _NOISE, max_size=40).map("".join) | st.text(
    max_size=200
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(TEXT, st.dictionaries(st.sampled_from(["GOPROXY", "A", "V"]), st.text(max_size=20)))
def test_dockerfile_never_raises(text: str, build_args: dict[str, str]) -> None:
    """Any text parses and evaluates; every problem has a line inside the file."""
    parsed = dockerfile.parse(text)
    stages, findings = dockerfile.evaluate(parsed, "Dockerfile", build_args)
    rules.check([s.context for s in stages])
    n = max(1, len(text.splitlines()))
    assert all(0 <= f.line <= n for f in findings)


@FAST
@given(TEXT)
def test_yaml_ci_never_raises(text: str) -> None:
    """Any text is YAML with lines, or a YamlProblem; analysers accept whatever YAML gives."""
    try:
        data = load(text)
    except YamlProblem:
        return
    github.analyze(data, "ci.yml")
    gitlab.analyze([(".gitlab-ci.yml", data)])


@FAST
@given(TEXT)
def test_system_files_never_raise(text: str) -> None:
    """Units, profile scripts, /etc/environment and go env files accept any text."""
    system.parse_unit("x.service", [("x.service", text)])
    system.parse_profile_script(text, "p.sh")
    system.parse_etc_environment(text, "environment")
    system.parse_go_env_file(text, "env", "user go env file")


def test_odd_files_become_x01(tmp_path: Path) -> None:
    """Binary, non-UTF-8 and unreadable inputs are X01 findings with file and line."""
    (tmp_path / "Dockerfile").write_bytes(b"FROM golang\nRUN go build\n\x00\xff")
    (tmp_path / "Dockerfile.dev").write_bytes(b"FROM golang\n\xff\xfe bad\n")
    (tmp_path / "Containerfile").mkdir()  # a directory named like a file
    (tmp_path / ".gitlab-ci.yml").write_text("")
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "a.yml").write_text("jobs: [1, 2]\n")
    (wf / "b.yml").write_text("on: push\njobs:\n  j: 3\n")
    report = run(Options(paths=[tmp_path], root=tmp_path / "none", run_go=False))
    x01 = {(Path(f.file).name, f.line) for f in report.findings if f.code == "X01"}
    assert ("Dockerfile", 3) in x01
    assert ("Dockerfile.dev", 2) in x01
    assert ("a.yml", 1) in x01
    assert ("b.yml", 3) in x01
