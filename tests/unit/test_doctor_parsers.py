"""The doctor's parsers: Dockerfile (directives, continuations, heredocs, stage scoping),
shell words, YAML with lines, GitHub/GitLab precedence, systemd units and profile scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gomodproxy.doctor import dockerfile, github, gitlab, shellwords, system
from gomodproxy.doctor.effective import compute, gover_key
from gomodproxy.doctor.yamlsrc import YamlProblem, load
from gomodproxy.redact.mask import mask
from tests.unit.test_purity import impurities

SRC = Path(__file__).resolve().parents[2] / "src" / "gomodproxy" / "doctor"
#: modules that must stay free of I/O (the collectors, probe and report do the I/O).
PURE = [
    "dockerfile",
    "github",
    "gitlab",
    "shellwords",
    "shellscript",
    "names",
    "secretnames",
    "system",
    "effective",
    "rules",
    "rulekit",
    "rules_env",
    "rules_ci",
    "diagnose",
    "render",
    "model",
    "yamlsrc",
    "codes",
]


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_do_no_io(name: str) -> None:
    """Rules, parsers and the effective-setting computation do no I/O (the core's checker),
    and leave terminal output to the collectors' caller (no rich)."""
    source = (SRC / f"{name}.py").read_text()
    assert impurities(source, f"{name}.py") == []
    assert re.search(r"^\s*(from|import)\s+rich\b", source, re.MULTILINE) is None


class TestDockerfileParse:
    def test_continuations_comments_and_escape_directive(self) -> None:
        """A backtick escape directive, comment lines inside a continuation, flags."""
        text = (
            "# escape=`\nFROM golang:1.22 AS b\n"
            "RUN --mount=type=cache,target=/x go `\n# c\n  build .\n"
        )
        p = dockerfile.parse(text)
        assert p.escape == "`"
        run = p.instructions[1]
        assert (run.cmd, run.args, run.line, run.flags) == (
            "RUN",
            "go build .",
            3,
            ["--mount=type=cache,target=/x"],
        )

    def test_heredoc(self) -> None:
        """A heredoc body belongs to its RUN and its lines are not instructions."""
        p = dockerfile.parse(
            "FROM x\nRUN <<-EOF\n\tgo env -w GOFLAGS=-mod=mod\n\tFROM y\n\tEOF\nENV A=1\n"
        )
        assert [i.cmd for i in p.instructions] == ["FROM", "RUN", "ENV"]
        assert p.instructions[1].heredocs == ["go env -w GOFLAGS=-mod=mod\nFROM y"]
        assert not p.problems

    def test_problems_never_raise(self) -> None:
        """Unknown instructions, a dangling continuation and a bad heredoc are problems."""
        p = dockerfile.parse("FROM x\nFOO bar\nRUN <<EOF\nno end\n")
        assert [ln for ln, _ in p.problems] == [2, 3]
        p = dockerfile.parse("FROM x\nRUN a \\")
        assert p.problems == [
            (2, "line continuation at the end of the file: instruction unfinished")
        ]

    def test_stage_scoping(self) -> None:
        """Global ARGs need redeclaring, FROM <stage> inherits ENV and ARG, unrelated
        stages do not, --build-arg overrides defaults, ENV wins over ARG."""
        text = (
            "ARG GOPROXY=https://a.example\nARG V=1\n"
            "FROM golang:1.22 AS base\nARG GOPROXY\nENV GOFLAGS=-mod=readonly\n"
            "FROM base AS build\nRUN go build .\n"
            "FROM golang:1.22 AS other\nARG V\nRUN go vet ./...\n"
        )
        stages, findings = dockerfile.evaluate(
            dockerfile.parse(text), "Dockerfile", {"GOPROXY": "https://b.example"}
        )
        build, other = stages[1].context.env, stages[2].context.env
        assert build["GOPROXY"].value == "https://b.example"
        assert build["GOPROXY"].source == "--build-arg"
        assert build["GOFLAGS"].value == "-mod=readonly"
        assert build["GOTOOLCHAIN"].value == "local"  # from the golang image
        assert "GOPROXY" not in other
        assert "GOFLAGS" not in other
        assert other["V"].value == "1"
        assert not [f for f in findings if f.code == "D01"]

    def test_image_facts(self) -> None:
        """Official golang images by tag: Go version, git presence."""
        assert dockerfile.image_facts("golang:1.22.3-alpine3.20").go_version == "1.22.3"
        assert dockerfile.image_facts("golang:1.22-alpine").has_git is False
        assert dockerfile.image_facts("mirror.example:5000/library/golang:1.21").has_git is True
        assert dockerfile.image_facts("ubuntu:24.04").has_git is None


def test_shellwords_expansion() -> None:
    """Quotes, escapes and the ${VAR:-default} family."""
    v = {"A": "x", "E": ""}
    assert shellwords.expand("'$A' \"$A\" ${B:-d} ${E:-d} ${E-d} ${A:+y}", v).text == "$A x d d  y"
    assert shellwords.expand("$MISSING", v).missing == ["MISSING"]
    assert shellwords.split_words('a "b c" d\\ e') == ["a", '"b c"', "d\\ e"]


def test_yaml_lines_and_merge_keys() -> None:
    """Keys know their lines; merge keys apply; syntax errors carry a line."""
    data = load("base: &b\n  x: 1\njob:\n  <<: *b\n  y: 2\n")
    assert data["job"] == {"x": "1", "y": "2"}
    assert data["job"].line_of("y") == 5
    with pytest.raises(YamlProblem) as exc:
        load("a: 1\nb: [1,\nc: {\n")
    assert exc.value.line == 4


def test_github_precedence_and_github_env() -> None:
    """step env > $GITHUB_ENV of earlier steps > job env > workflow env."""
    wf = load(
        "env: {GOPROXY: w, GOFLAGS: -v}\njobs:\n  j:\n    env: {GOPROXY: j}\n    steps:\n"
        '      - run: echo "GOPRIVATE=p.example" >> $GITHUB_ENV\n'
        "      - run: go build\n        env: {GOFLAGS: -x}\n"
    )
    (ctx,), findings = github.analyze(wf, "ci.yml")
    assert {k: s.value for k, s in ctx.env.items()} == {
        "GOPROXY": "j",
        "GOFLAGS": "-x",
        "GOPRIVATE": "p.example",
    }
    assert ctx.env["GOPRIVATE"].source == "$GITHUB_ENV"
    assert not findings


def test_gitlab_extends_merges_variables() -> None:
    """extends merges templates (deep), job variables over top-level ones."""
    doc = load(
        "variables: {GOPROXY: top, GOFLAGS: -v}\n.t:\n  variables: {GOPRIVATE: t.example}\n"
        "  script: [go build]\njob:\n  extends: .t\n  variables: {GOFLAGS: -x}\n"
    )
    (ctx,), _ = gitlab.analyze([("ci.yml", doc)])
    assert {k: s.value for k, s in ctx.env.items()} == {
        "GOPROXY": "top",
        "GOFLAGS": "-x",
        "GOPRIVATE": "t.example",
    }
    assert ctx.runs_go


def test_systemd_dropins_and_quoting() -> None:
    """Drop-ins apply in order; quoted assignments; an empty Environment= resets."""
    unit = system.parse_unit(
        "r.service",
        [
            (
                "r.service",
                '[Service]\nEnvironment="GOPROXY=a b" GOFLAGS=-v\n'
                "ExecStart=/usr/bin/gitlab-runner run\n",
            ),
            ("10.conf", "[Service]\nEnvironment=\nEnvironment=GOPRIVATE=p.example\n"),
        ],
    )
    assert {k: s.value for k, s in unit.env.items()} == {"GOPRIVATE": "p.example"}
    assert unit.env["GOPRIVATE"].file == "10.conf"


def test_profile_script_exports() -> None:
    """Assignments count once exported; values expand earlier ones; $(...) is unknown."""
    got = system.parse_profile_script(
        "P=https://p.example\nexport P\nexport GOPROXY=$P,direct\nexport GOFLAGS=$(cat f)\nX=1\n",
        "go.sh",
    )
    assert got["GOPROXY"].value == "https://p.example,direct"
    assert not got["GOFLAGS"].known
    assert "X" not in got


def test_effective_lookup() -> None:
    """Empty env values fall through; a user-file key hides go.env; GONOSUMDB defaults to
    GOPRIVATE only when unset."""
    from gomodproxy.doctor.model import Context, Setting

    ctx = Context("c", "shell", goroot_known=True)
    ctx.env = {
        "GOPROXY": Setting("GOPROXY", "", "environment"),
        "GOPRIVATE": Setting("GOPRIVATE", "p.example", "environment"),
    }
    ctx.env_file = {"GOPROXY": Setting("GOPROXY", "https://u.example", "user go env file")}
    ctx.goroot_env = {
        "GOPROXY": Setting("GOPROXY", "https://g.example", "$GOROOT/go.env"),
        "GOSUMDB": Setting("GOSUMDB", "sum.golang.org", "$GOROOT/go.env"),
    }
    eff = compute(ctx)
    assert eff["GOPROXY"] == "https://u.example"
    assert eff["GOSUMDB"] == "sum.golang.org"
    assert eff["GONOSUMDB"] == "p.example"
    assert eff.setting("GONOSUMDB").source.startswith("GOPRIVATE")


def test_gover_order() -> None:
    """1.21 < 1.21rc1 < 1.21.0 < 1.21.1 < 1.22, as cmd/go/internal/gover orders them."""
    order = ["1.21", "1.21rc1", "1.21.0", "1.21.1", "1.22"]
    assert sorted(order, key=lambda v: gover_key(v) or (0,)) == order


def test_mask() -> None:
    """User-info, forge tokens and netrc passwords never survive masking."""
    text = "https://u:p@h.example ghp_abcdefghijklmnop machine h login u password hunter2"
    out = mask(text)
    assert "u:p" not in out
    assert "abcdefghijklmnop" not in out
    assert "hunter2" not in out
