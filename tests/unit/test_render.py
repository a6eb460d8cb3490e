"""``config render``: every target's output passes the doctor with no error or warning (the
round trip), and settings the doctor rejects are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gomodproxy.cli.main import main
from gomodproxy.doctor import Options, Severity, run
from gomodproxy.doctor.render import TARGETS, Settings, render
from gomodproxy.errors import InvalidInput

SETTINGS = Settings(proxy="https://goproxy.corp.example,direct", private="git.corp.example")
UNIT = "[Service]\nExecStart=/usr/bin/gitlab-runner run\n"


def _write(root: Path, files: list[tuple[str, str]]) -> None:
    for name, text in files:
        p = root / name.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    "settings",
    [
        SETTINGS,
        Settings(proxy="https://goproxy.corp.example"),
        Settings(
            proxy="https://goproxy.corp.example",
            private="*.corp.example,github.com/acme",
            sumdb="sum.golang.org",
        ),
    ],
    ids=["private", "public-only", "glob"],
)
def test_round_trip(target: str, settings: Settings, tmp_path: Path) -> None:
    """The doctor finds nothing of error or warn severity in what render writes."""
    files = render(target, settings)
    project, root = tmp_path / "project", tmp_path / "root"
    project.mkdir()
    (project / "go.mod").write_text("module example.com/app\n\ngo 1.22.0\n")
    (project / "go.sum").write_text("")
    system = [(n, t) for n, t in files if n.startswith("/")]
    _write(project, [(n, t) for n, t in files if not n.startswith("/")])
    _write(root, system)
    env: dict[str, str] = {}
    if target == "go-env":
        env = {"GOENV": "/goenv"}
        _write(root, [("/goenv", files[0][1])])
    if system:
        _write(root, [(f"/etc/systemd/system/{settings.unit}", UNIT)])
    report = run(Options(paths=[project], root=root, env=env, run_go=False))
    bad = [f for f in report.findings if f.severity >= Severity.WARN]
    assert not bad, [(f.code, f.message) for f in bad]
    assert len(report.contexts) >= 1
    if target == "go-env":  # the file really sets the values
        assert report.contexts[0].env_file["GOPROXY"].value == settings.proxy


def test_dockerfile_redeclares_args_and_mounts() -> None:
    """The Dockerfile redeclares global ARGs in the stage, caches the module download and
    mounts .netrc as a secret."""
    ((_, text),) = render("dockerfile", SETTINGS)
    assert "\nARG GOPROXY\n" in text
    assert "--mount=type=cache,target=/go/pkg/mod" in text
    assert "--mount=type=secret,id=netrc,target=/root/.netrc" in text
    assert "COPY go.mod go.sum ./" in text


@pytest.mark.parametrize(
    "settings",
    [
        Settings(proxy="fallback"),
        Settings(proxy="https://x.example", private="a.example, b.example"),
        Settings(proxy="https://x.example", sumdb="corp.example"),
    ],
)
def test_refuses_bad_settings(settings: Settings) -> None:
    """Render refuses settings the doctor calls an error or a warning."""
    with pytest.raises(InvalidInput):
        render("github", settings)


def test_cli_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`config render` prints one file as is, several with headers, or writes --output-dir."""
    base = ["config", "render", "--proxy", "https://goproxy.corp.example,direct"]
    assert main([*base, "--target", "github"]) == 0
    assert capsys.readouterr().out.startswith("name: build")
    assert main([*base, "--target", "systemd"]) == 0
    assert "# --- /etc/go-modules.env ---" in capsys.readouterr().out
    assert main([*base, "--target", "dockerfile", "--output-dir", str(tmp_path)]) == 0
    assert (tmp_path / "Dockerfile").is_file()
    assert main([*base[:2], "--target", "github", "--proxy", "fallback"]) == 2
