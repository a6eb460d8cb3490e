"""What the doctor's findings say about the go command, checked against the real go command
(the machine's Go, a file:// proxy, no network).

Each test runs go in the situation a finding describes and the doctor on a file in the shape
of the one it judges, then asserts that go does what the finding claims — and, where the
finding quotes go, that go prints those words.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from gomodproxy.doctor import Options, Report, run
from gomodproxy.sumdb.note import generate_key
from tests.conftest import free_port
from tests.e2e.fixtures import ModuleVersion, UpstreamServer, build_tree

pytestmark = [pytest.mark.e2e, pytest.mark.needs_go]

DEP = ModuleVersion("example.com/dep", "v1.0.0", {"dep.go": b"package dep\n\nconst X = 1\n"})
LIB = ModuleVersion("github.com/acme/lib", "v1.0.0", {"lib.go": b"package lib\n\nconst Y = 2\n"})
GOMOD = "module example.com/app\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n"
MAIN = 'package main\n\nimport "example.com/dep"\n\nfunc main() { println(dep.X) }\n'


def _go(
    env: dict[str, str], cwd: Path, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["go", *args],
        cwd=cwd,
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _module(root: Path, gomod: str = GOMOD, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text(gomod)
    (root / "main.go").write_text(MAIN)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def _doctor(path: Path, tmp: Path) -> Report:
    return run(Options(paths=[path], root=tmp / "no-root", env={}, run_go=False))


def _messages(report: Report, code: str) -> list[str]:
    return [f.message for f in report.findings if f.code == code]


@pytest.fixture
def proxy(go_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """go_env pointing at a file:// proxy that serves example.com/dep, github.com/acme/lib
    and a (fake) go1.99.0 toolchain module for this machine."""
    goos, goarch = _go(go_env, tmp_path, "env", "GOOS", "GOARCH").stdout.split()
    toolchain = ModuleVersion(
        "golang.org/toolchain", f"v0.0.1-go1.99.0.{goos}-{goarch}", {"bin/go": b"not a go\n"}
    )
    tree = build_tree(tmp_path / "tree", [DEP, LIB, toolchain])
    return {**go_env, "GOPROXY": tree.as_uri()}


def _unreachable_sumdb() -> str:
    """A well-formed GOSUMDB whose server is a closed loopback port: any lookup fails."""
    _, vkey = generate_key("sum.test.example", b"\x01" * 32)
    return f"{vkey} http://127.0.0.1:{free_port()}"


def _committed_sum(env: dict[str, str], tmp: Path) -> str:
    ref = _module(tmp / "ref")
    assert _go(env, ref, "mod", "tidy").returncode == 0
    return (ref / "go.sum").read_text()


def test_d04_go_sum_copied_after_download(proxy: dict[str, str], tmp_path: Path) -> None:
    """`go mod download` with only go.mod succeeds and writes go.mod hashes only; a build
    without the committed go.sum fails with `missing go.sum entry` even after it; the build
    compares the committed go.sum with the download; the download without go.sum asks the
    checksum database, with go.sum it does not."""
    committed = _committed_sum(proxy, tmp_path)
    app = _module(tmp_path / "app")
    dl = _go(proxy, app, "mod", "download")
    assert dl.returncode == 0, dl.stderr
    written = (app / "go.sum").read_text().splitlines()
    assert written
    assert all(line.split()[1].endswith("/go.mod") for line in written)
    build = _go(proxy, app, "build", "-o", "/dev/null", ".")
    assert build.returncode != 0
    assert "missing go.sum entry" in build.stderr

    (app / "go.sum").write_text(committed)
    assert _go(proxy, app, "build", "-o", "/dev/null", ".").returncode == 0
    (app / "go.sum").write_text(committed.replace("h1:", "h1:A", 1))
    tampered = _go(proxy, app, "build", "-o", "/dev/null", ".")
    assert tampered.returncode != 0
    assert "checksum mismatch" in tampered.stderr

    sumdb = {"GOSUMDB": _unreachable_sumdb(), "GONOSUMDB": "", "GOPRIVATE": ""}
    for name, gosum, ok in (("no-sum", None, False), ("with-sum", committed, True)):
        d = _module(tmp_path / name, **({"go.sum": gosum} if gosum else {}))
        gopath = tmp_path / f"gopath-{name}"
        res = _go(
            proxy, d, "mod", "download", GOPATH=str(gopath), GOMODCACHE=str(gopath / "m"), **sumdb
        )
        assert (res.returncode == 0) is ok, res.stderr
        if not ok:
            assert "verifying" in res.stderr

    docker = _module(tmp_path / "docker", **{"go.sum": committed})
    (docker / "Dockerfile").write_text(
        "FROM golang:1.22.3\nWORKDIR /src\nCOPY go.mod ./\nRUN go mod download\n"
        "COPY main.go ./\nRUN go build -o /app .\n"
    )
    report = _doctor(docker, tmp_path)
    info, error = sorted((f for f in report.findings if f.code == "D04"), key=lambda f: f.severity)
    assert "succeeds" in info.message
    assert "only go.mod hashes" in info.message
    assert "checksum database" in info.message
    assert "`missing go.sum entry`, even after a `go mod download`" in error.message


def test_toolchain_line_is_no_minimum_with_local(proxy: dict[str, str], tmp_path: Path) -> None:
    """With GOTOOLCHAIN=local a newer `toolchain` line does not stop an older Go that
    satisfies the `go` line; a newer `go` line fails with the message R19 quotes."""
    local = json.loads(_go(proxy, tmp_path, "env", "-json", "GOVERSION").stdout)["GOVERSION"]
    local = local.removeprefix("go").split(" ")[0]
    main = "package main\n\nfunc main() {}\n"
    workflow = (
        "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    env:\n      GOTOOLCHAIN: local\n"
        "    steps:\n      - uses: actions/setup-go@v5\n"
        f"        with:\n          go-version: '{local}'\n"
        "      - run: go build ./...\n"
    )
    for name, gomod, ok in (
        ("tc", "module example.com/tc\n\ngo 1.21.0\n\ntoolchain go1.99.0\n", True),
        ("new", "module example.com/new\n\ngo 1.99.0\n", False),
    ):
        d = tmp_path / name
        (d / ".github" / "workflows").mkdir(parents=True)
        (d / "go.mod").write_text(gomod)
        (d / "main.go").write_text(main)
        (d / ".github" / "workflows" / "ci.yml").write_text(workflow)
        res = _go(proxy, d, "build", "-o", "/dev/null", ".", GOTOOLCHAIN="local")
        r19 = _messages(_doctor(d, tmp_path), "R19")
        assert (res.returncode == 0) is ok, res.stderr
        if ok:
            assert r19 == []
        else:
            quoted = f"requires go >= 1.99.0 (running go {local}; GOTOOLCHAIN=local)"
            assert quoted in res.stderr
            assert len(r19) == 1
            assert quoted in r19[0]


def test_invented_names_have_no_effect(proxy: dict[str, str], tmp_path: Path) -> None:
    """GO_PRIVATE, GONOSUMCHECK and GOPROXY_URL change nothing the go command does."""
    app = _module(tmp_path / "app")
    names = {"GO_PRIVATE": "example.com", "GONOSUMCHECK": "1", "GOPROXY_URL": proxy["GOPROXY"]}
    res = _go(
        proxy, app, "env", "-json", "GOPRIVATE", "GONOSUMDB", "GOPROXY", **names, GOPROXY="off"
    )
    assert json.loads(res.stdout) == {"GOPRIVATE": "", "GONOSUMDB": "", "GOPROXY": "off"}
    dl = _go(proxy, app, "mod", "download", **names, GOPROXY="off")
    assert "module lookup disabled by GOPROXY=off" in dl.stderr
    (app / "env").write_text("".join(f"{k}={v}\n" for k, v in names.items()))
    report = run(
        Options(
            paths=[app], root=tmp_path / "no-root", env=names, env_file=app / "env", run_go=False
        )
    )
    got = sorted(_messages(report, "R26"))
    assert len(got) == 3
    for meant in ("GONOSUMDB", "GOPRIVATE", "GOPROXY"):
        assert any(m.endswith(f"(the go command reads {meant})") for m in got), got


def test_whole_code_host_pattern(proxy: dict[str, str], tmp_path: Path) -> None:
    """GOPRIVATE=github.com: every github.com module is fetched directly (not from GOPROXY)
    and is not looked up in the checksum database."""
    app = _module(tmp_path / "app", "module example.com/app\n\ngo 1.21\n")
    lib = "github.com/acme/lib@v1.0.0"
    dl = ("mod", "download", lib)
    assert _go(proxy, app, *dl, GOVCS="github.com:off").returncode == 0  # from the proxy
    fresh = {"GOPATH": str(tmp_path / "p0"), "GOMODCACHE": str(tmp_path / "p0" / "m")}
    direct = _go(proxy, app, *dl, GOPRIVATE="github.com", GOVCS="github.com:off", **fresh)
    assert "GOVCS disallows using git for private github.com/acme/lib" in direct.stderr
    sumdb = _unreachable_sumdb()
    for gopath, private, ok in (("p1", "", False), ("p2", "github.com", True)):
        res = _go(
            proxy,
            app,
            *dl,
            GOSUMDB=sumdb,
            GOPRIVATE=private,
            GONOPROXY="none",
            GONOSUMDB="",
            GOPATH=str(tmp_path / gopath),
            GOMODCACHE=str(tmp_path / gopath / "m"),
        )
        assert (res.returncode == 0) is ok, res.stderr
    (app / ".gitlab-ci.yml").write_text(
        "variables:\n  GOPRIVATE: github.com\n"
        "t:\n  image: golang:1.22.3\n  script: [go test ./...]\n"
    )
    (msg,) = _messages(_doctor(app, tmp_path), "R27")
    assert "skips the proxy (fetched directly with git)" in msg
    assert "skips the checksum database (not verified)" in msg


def test_go_env_file_loses_to_the_environment(proxy: dict[str, str], tmp_path: Path) -> None:
    """D08's claim: a `go env -w` value is overridden by the environment of the same name
    (the golang image sets GOTOOLCHAIN=local with ENV)."""
    envfile = tmp_path / "goenv"
    env = {**proxy, "GOENV": str(envfile)}
    env.pop("GOTOOLCHAIN")
    assert _go(env, tmp_path, "env", "-w", "GOTOOLCHAIN=go1.99.0+auto").returncode == 0
    assert _go(env, tmp_path, "env", "GOTOOLCHAIN").stdout.strip() == "go1.99.0+auto"
    assert _go(env, tmp_path, "env", "GOTOOLCHAIN", GOTOOLCHAIN="local").stdout.strip() == "local"
    d = tmp_path / "img"
    d.mkdir()
    (d / "Dockerfile").write_text("FROM golang:1.22.3\nRUN go env -w GOTOOLCHAIN=go1.23.4+auto\n")
    (msg,) = _messages(_doctor(d, tmp_path), "D08")
    assert "the environment wins over the go env file" in msg


def test_tidy_hides_an_untidy_go_mod(proxy: dict[str, str], tmp_path: Path) -> None:
    """D10's claim: a build fails on a go.mod that lacks a requirement, `go mod tidy` first
    makes it pass; R17's: GOFLAGS=-mod=mod rewrites go.mod/go.sum and hides the failure."""
    untidy = "module example.com/app\n\ngo 1.21\n"
    a = _module(tmp_path / "a", untidy)
    assert _go(proxy, a, "build", "-o", "/dev/null", ".").returncode != 0
    assert _go(proxy, a, "mod", "tidy").returncode == 0
    assert _go(proxy, a, "build", "-o", "/dev/null", ".").returncode == 0
    assert "example.com/dep" in (a / "go.mod").read_text()
    b = _module(tmp_path / "b")
    plain = _go(proxy, b, "build", "-o", "/dev/null", ".")
    assert "missing go.sum entry" in plain.stderr
    assert _go(proxy, b, "build", "-o", "/dev/null", ".", GOFLAGS="-mod=mod").returncode == 0
    assert (b / "go.sum").is_file()
    (b / "Dockerfile").write_text(
        "FROM golang:1.22.3\nWORKDIR /src\nCOPY . .\n"
        "RUN go mod tidy && GOFLAGS=-mod=mod go build .\n"
    )
    report = _doctor(b, tmp_path)
    assert "an untidy go.mod is hidden instead of failing the build" in _messages(report, "D10")[0]
    assert "hides `missing go.sum entry` errors" in _messages(report, "R17")[0]


def test_older_setup_go_switches_toolchain(proxy: dict[str, str], tmp_path: Path) -> None:
    """R28's claim: with GOTOOLCHAIN=auto an older Go asks the proxy for the module
    golang.org/toolchain at the version go.mod names (and runs that Go when it gets it)."""
    d = tmp_path / "app"
    (d / ".github" / "workflows").mkdir(parents=True)
    (d / "go.mod").write_text("module example.com/app\n\ngo 1.99.0\n")
    (d / "main.go").write_text("package main\n\nfunc main() {}\n")
    (d / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-go@v5\n        with:\n          go-version: '1.22.3'\n"
        "      - run: go build ./...\n"
    )
    with UpstreamServer(tmp_path / "tree") as server:
        res = _go(proxy, d, "build", "-o", "/dev/null", ".", GOTOOLCHAIN="auto", GOPROXY=server.url)
    assert "go: downloading go1.99.0" in res.stderr
    assert any(p.startswith("/golang.org/toolchain/@v/v0.0.1-go1.99.0.") for p in server.hits)
    (msg,) = _messages(_doctor(d, tmp_path), "R28")
    assert "downloads go1.99.0 (the module golang.org/toolchain) and switches to it" in msg


#: corpus cases whose finding quotes the go command: the go run that shows it and extra
#: environment ("@tree" is the file:// proxy, "@http" the same tree served on loopback). Go runs
#: in a module whose go.sum is committed, except for downloads (they need the checksum check).
QUOTED = [
    ("r01_comma", "R01", ("mod", "download", "example.com/dep@v1.0.0"), {}),
    ("r02_fallback", "R02", ("mod", "download", "example.com/dep@v1.0.0"), {}),
    ("r02_scheme", "R02", ("mod", "download", "example.com/dep@v1.0.0"), {}),
    ("r04_off", "R04", ("mod", "download", "example.com/dep@v1.0.0"), {}),
    ("r11_sumdb_off", "R11", ("version",), {"GOTOOLCHAIN": "go1.99.0", "GOPROXY": "@http"}),
    (
        "r12_sumdb_name",
        "R12",
        ("mod", "download", "example.com/dep@v1.0.0"),
        {"GOPROXY": "@tree", "GONOSUMDB": "", "GOPRIVATE": ""},
    ),
    ("r15_split_value", "R15", ("build", "-o", "/dev/null", "."), {"GOPROXY": "@tree"}),
    ("r16_insecure", "R16", ("get", "example.com/dep@v1.0.0"), {"GOPROXY": "@tree"}),
]


@pytest.mark.parametrize(("case", "code", "args", "extra"), QUOTED, ids=[q[0] for q in QUOTED])
def test_quoted_go_errors_are_what_go_prints(
    case: str,
    code: str,
    args: tuple[str, ...],
    extra: dict[str, str],
    proxy: dict[str, str],
    tmp_path: Path,
) -> None:
    """The go error a setting finding quotes is the one go prints with that environment."""
    from gomodproxy.doctor.collect import read_env_file

    corpus = Path(__file__).resolve().parents[1] / "doctor_corpus" / case
    env = read_env_file(corpus / "env")
    report = run(
        Options(
            paths=[corpus], root=tmp_path / "none", env=env, env_file=corpus / "env", run_go=False
        )
    )
    quotes = [max(re.findall(r"`([^`]+)`", m), key=len) for m in _messages(report, code)]
    assert quotes
    sums = {} if args[:2] == ("mod", "download") else {"go.sum": _committed_sum(proxy, tmp_path)}
    app = _module(tmp_path / "app", **sums)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing may leave the machine
    run_env = {**proxy, **env, "HTTPS_PROXY": closed, "HTTP_PROXY": closed}
    run_env["GOPATH"] = str(tmp_path / "gp")
    run_env["GOMODCACHE"] = str(tmp_path / "gp" / "m")
    with UpstreamServer(tmp_path / "tree") as server:
        for k, v in extra.items():
            run_env[k] = v.replace("@tree", proxy["GOPROXY"]).replace("@http", server.url)
        res = _go(run_env, app, *args)
    assert res.returncode != 0
    assert any(q in res.stderr for q in quotes), (quotes, res.stderr)


def test_split_and_removed_flags_are_ignored_by_go_build(
    proxy: dict[str, str], tmp_path: Path
) -> None:
    """R15's `-ldflags=-s -w` claim (-w is silently ignored by go build) and R16's (other
    commands than `go get` ignore -insecure): the build succeeds."""
    committed = _committed_sum(proxy, tmp_path)
    app = _module(tmp_path / "app", **{"go.sum": committed})
    for goflags in ("-ldflags=-s -w", "-insecure"):
        res = _go(proxy, app, "build", "-o", "/dev/null", ".", GOFLAGS=goflags)
        assert res.returncode == 0, (goflags, res.stderr)


def test_language_version_switches_to_dot_zero(proxy: dict[str, str], tmp_path: Path) -> None:
    """R21's and R28's claim for `go 1.N` without a patch number: an older Go switches to
    go1.N.0 (it downloads that release)."""
    d = _module(tmp_path / "lang", "module example.com/lang\n\ngo 1.99\n")
    (d / "main.go").write_text("package main\n\nfunc main() {}\n")
    res = _go(proxy, d, "build", "-o", "/dev/null", ".", GOTOOLCHAIN="auto")
    assert "go: downloading go1.99.0" in res.stderr
    (d / ".github" / "workflows").mkdir(parents=True)
    (d / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-go@v5\n        with:\n          go-version: '1.22.3'\n"
        "      - run: go build ./...\n"
    )
    report = _doctor(d, tmp_path)
    (r21,) = _messages(report, "R21")
    (r28,) = _messages(report, "R28")
    assert "switches to go1.99.0" in r21
    assert "downloads go1.99.0" in r28


def test_goenv_off_ignores_what_go_env_w_writes(proxy: dict[str, str], tmp_path: Path) -> None:
    """R25's claim: with GOENV=off `go env -w` still writes the user file at its default
    place, and no go command reads it while GOENV=off."""
    home = tmp_path / "home"
    env = {**proxy, "GOENV": "off", "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".cfg")}
    env.pop("GOPROXY")
    assert _go(env, tmp_path, "env", "-w", "GOPRIVATE=corp.example").returncode == 0
    assert "GOPRIVATE=corp.example" in (home / ".cfg" / "go" / "env").read_text()
    assert _go(env, tmp_path, "env", "GOPRIVATE").stdout.strip() == ""
    assert _go({**env, "GOENV": ""}, tmp_path, "env", "GOPRIVATE").stdout.strip() == "corp.example"


def test_list_and_pattern_semantics(proxy: dict[str, str], tmp_path: Path) -> None:
    """R03: entries after `direct` are ignored. R07: a GONOSUMDB that leaves out a GOPRIVATE
    path sends it to the checksum database. R08: a GONOPROXY that leaves one out sends it to
    the proxy."""
    app = _module(tmp_path / "app", "module example.com/app\n\ngo 1.21\n")
    dl = ("mod", "download", "example.com/dep@v1.0.0")
    closed = f"http://127.0.0.1:{free_port()}"
    offline = {"HTTPS_PROXY": closed, "HTTP_PROXY": closed}

    def fresh(name: str) -> dict[str, str]:
        return {"GOPATH": str(tmp_path / name), "GOMODCACHE": str(tmp_path / name / "m")}

    after_direct = _go(
        proxy, app, *dl, GOPROXY=f"direct,{proxy['GOPROXY']}", **offline, **fresh("a")
    )
    assert after_direct.returncode != 0  # went to the network, never to the tree after direct
    assert _go(proxy, app, *dl, **fresh("b")).returncode == 0
    sumdb = _unreachable_sumdb()
    r07 = _go(
        proxy,
        app,
        *dl,
        GOPRIVATE="example.com,corp.example",
        GONOSUMDB="corp.example",
        GONOPROXY="none",
        GOSUMDB=sumdb,
        **fresh("c"),
    )
    assert "verifying" in r07.stderr  # example.com/dep was looked up in the checksum database
    r08 = _go(
        proxy,
        app,
        *dl,
        GOPRIVATE="example.com,corp.example",
        GONOPROXY="corp.example",
        **offline,
        **fresh("d"),
    )
    assert r08.returncode == 0  # example.com/dep came from the proxy, not from its origin
    direct = _go(proxy, app, *dl, GOPRIVATE="example.com", **offline, **fresh("e"))
    assert direct.returncode != 0  # the default GONOPROXY (GOPRIVATE) fetches it directly


def test_spaces_in_patterns_and_plain_http(proxy: dict[str, str], tmp_path: Path) -> None:
    """R09: a space after a comma is part of the pattern, which then never matches. R05/R10:
    an http:// GOPROXY is used without GOINSECURE."""
    app = _module(tmp_path / "app", "module example.com/app\n\ngo 1.21\n")
    closed = f"http://127.0.0.1:{free_port()}"
    dl = ("mod", "download", "example.com/dep@v1.0.0")
    spaced = _go(
        proxy,
        app,
        *dl,
        GOPRIVATE="corp.example, example.com",
        HTTPS_PROXY=closed,
        GOPATH=str(tmp_path / "a"),
        GOMODCACHE=str(tmp_path / "a" / "m"),
    )
    assert spaced.returncode == 0, spaced.stderr  # from the proxy: " example.com" is not private
    with UpstreamServer(tmp_path / "tree") as server:
        plain = _go(
            proxy,
            app,
            *dl,
            GOPROXY=server.url,
            GOINSECURE="",
            GOPATH=str(tmp_path / "b"),
            GOMODCACHE=str(tmp_path / "b" / "m"),
        )
    assert plain.returncode == 0, plain.stderr
    assert server.hits["/example.com/dep/@v/v1.0.0.zip"] == 1
