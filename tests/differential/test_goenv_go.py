"""gomod.goenv against the real go command, driven offline: the GOPROXY, GOSUMDB, GOVCS and
GOFLAGS error texts it prints, the go env file that ``go env -w``/``-u`` writes and the values
``go env`` reads back. One go process per case, so the cases are a few dozen representative
ones (the generated bulk is in test_goenv_url.py and tests/property); they run in threads."""

from __future__ import annotations

import json
import subprocess
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import goenv
from tests.unit.test_goenv import VECTORS

pytestmark = pytest.mark.needs_go

T = TypeVar("T")
R = TypeVar("R")
MISSING = "x.test/m@v1.0.0"


def pmap(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """Run ``fn`` over ``items`` in a few threads (each call runs one go process)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(fn, items))


def go(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["go", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def download_error(env: dict[str, str], cwd: Path, target: str = MISSING) -> str | None:
    """The Error field of ``go mod download -json target``, None on success."""
    out = go(env, "mod", "download", "-json", target, cwd=cwd)
    error = json.loads(out.stdout).get("Error") if out.stdout else out.stderr
    return None if error is None else str(error)


def ours(fn: Callable[[], object]) -> str | None:
    try:
        fn()
    except InvalidInput as e:
        return str(e)
    return None


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A main module to run go commands in, plus a file:// proxy holding x.test/m v1.0.0."""
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "go.mod").write_text("module example.com/w\n\ngo 1.21\n")
    v = tmp_path / "fp" / "x.test" / "have" / "@v"
    v.mkdir(parents=True)
    (v / "v1.0.0.info").write_text('{"Version":"v1.0.0"}')
    (v / "v1.0.0.mod").write_text("module x.test/have\n")
    with zipfile.ZipFile(v / "v1.0.0.zip", "w") as z:
        z.writestr("x.test/have@v1.0.0/go.mod", "module x.test/have\n")
    return tmp_path / "w"


class TestGoproxy:
    def test_errors_and_lists(self, go_env: dict[str, str], workdir: Path) -> None:
        """Each GOPROXY the table refuses fails in go with the same text after the module."""
        fp = "file://" + str(workdir.parent / "fp")
        # (An empty GOPROXY in the environment means the go.env default: not a case here.)
        cases = [
            (c["goproxy"], c["gonoproxy"])
            for c in VECTORS["goproxy"]
            if "error" in c and c["goproxy"]
        ]
        cases += [
            ("off", ""),
            (fp, ""),
            (f"{fp}|off", ""),
            (f" {fp} , off", ""),
            ("file:///nonexistent,http://127.0.0.1:1", ""),
            ("http://127.0.0.1:1|" + fp, ""),
            (",", "x.test"),
            ("off", "x.test"),
        ]

        def run(case: tuple[str, str]) -> tuple[str | None, str | None]:
            env = {**go_env, "GOPROXY": case[0], "GONOPROXY": case[1]}
            return download_error(env, workdir), ours(lambda: goenv.parse_goproxy(case[0], case[1]))

        for case, (theirs, mine) in zip(cases, pmap(run, cases), strict=True):
            assert theirs is not None, case
            if mine is not None:
                assert theirs == f"{MISSING}: {mine}", case
            else:
                for grammar in ("GOPROXY list", "invalid proxy URL", "invalid file://", "parse "):
                    assert grammar not in theirs, case


class TestGosumdb:
    def test_errors(self, go_env: dict[str, str], workdir: Path) -> None:
        """A GOSUMDB the table refuses stops verification with the same text."""
        fp = "file://" + str(workdir.parent / "fp")
        cases = [c["gosumdb"] for c in VECTORS["gosumdb"] if "error" in c and c["gosumdb"].strip()]
        key = goenv.KNOWN_GOSUMDB["sum.golang.org"]
        cases += [f"{key} http://127.0.0.1:1", "sum.golang.org http://127.0.0.1:1"]

        def run(case: tuple[int, str]) -> tuple[str | None, str | None]:
            i, gosumdb = case
            env = {**go_env, "GOPROXY": fp, "GOSUMDB": gosumdb}
            env["GOMODCACHE"] = str(workdir.parent / f"cache{i}")  # each case downloads anew
            theirs = download_error(env, workdir, "x.test/have@v1.0.0")
            return theirs, ours(lambda: goenv.parse_gosumdb(gosumdb))

        results = pmap(run, list(enumerate(cases)))
        for gosumdb, (theirs, mine) in zip(cases, results, strict=True):
            assert theirs is not None, gosumdb
            prefix = "x.test/have@v1.0.0: verifying go.mod: "
            if mine is not None:
                assert theirs == prefix + mine, gosumdb
            else:
                assert "127.0.0.1:1" in theirs, gosumdb


class TestGovcs:
    def test_refusals_and_errors(self, go_env: dict[str, str], workdir: Path) -> None:
        """GOVCS parse errors and refusals for a github.com repository equal go's. (Only
        refused cases run: an allowed one would go on to the network.)"""
        cases = [(c["govcs"], "") for c in VECTORS["govcs_parse"] if "error" in c]
        cases += [
            ("github.com:hg", ""),
            ("github.com:hg", "github.com/a"),
            ("*:off", ""),
            ("*:off", "github.com/a"),
            ("public:svn,private:all", ""),
            ("private:hg", "github.com/a"),
            ("github.com/a:hg", "github.com/a"),
        ]

        def run(case: tuple[str, str]) -> str | None:
            env = {**go_env, "GOPROXY": "direct", "GOVCS": case[0], "GOPRIVATE": case[1]}
            return download_error(env, workdir, "github.com/a/b@v1.0.0")

        for (govcs, private), theirs in zip(cases, pmap(run, cases), strict=True):
            mine = ours(partial(goenv.check_govcs, govcs, private, "git", "github.com/a/b"))
            assert mine is not None, govcs
            assert theirs == f"github.com/a/b@v1.0.0: {mine}", (govcs, private)


class TestGoflags:
    def test_table(self, go_env: dict[str, str], workdir: Path) -> None:
        """go version accepts the GOFLAGS the table accepts and refuses the rest, same text."""
        cases = [c["goflags"] for c in VECTORS["goflags"]]

        def run(goflags: str) -> subprocess.CompletedProcess[str]:
            return go({**go_env, "GOFLAGS": goflags}, "version", cwd=workdir)

        for goflags, out in zip(cases, pmap(run, cases), strict=True):
            mine = ours(partial(goenv.parse_goflags, goflags))
            if mine is None:
                assert out.returncode == 0, (goflags, out.stderr)
            else:
                assert out.stderr.splitlines()[0] == f"go: {mine}", goflags

    def test_flag_names(self, go_env: dict[str, str], workdir: Path) -> None:
        """Every name in GO_FLAG_NAMES is known to this go; names outside it are not."""
        names = sorted(goenv.GO_FLAG_NAMES - {"C"})  # -C cannot be set from GOFLAGS at all
        out = go({**go_env, "GOFLAGS": " ".join("-" + n for n in names)}, "version", cwd=workdir)
        assert "parsing $GOFLAGS" not in out.stderr
        unknown = ["all", "args", "h", "help", "http", "src", "cmd", "workfile", "vet.x", "X"]

        def run(name: str) -> str:
            return go({**go_env, "GOFLAGS": "-" + name}, "version", cwd=workdir).stderr

        for name, stderr in zip(unknown, pmap(run, unknown), strict=True):
            assert name not in goenv.GO_FLAG_NAMES
            assert stderr.startswith(f"go: parsing $GOFLAGS: unknown flag -{name}\n"), stderr


def plain_env(go_env: dict[str, str], envfile: Path) -> dict[str, str]:
    """go_env without the GO* values it pins, reading the user env file ``envfile``."""
    env = {k: v for k, v in go_env.items() if k not in ("GOPROXY", "GOSUMDB", "GOFLAGS")}
    for k in ("GONOSUMDB", "GOPRIVATE"):
        env.pop(k)
    env["GOENV"] = str(envfile)
    return env


class TestEnvFile:
    def test_go_env_w_and_u(self, go_env: dict[str, str], tmp_path: Path) -> None:
        """The file go env -w / -u leaves is what update_env_file computes."""
        starts = [c["text"] for c in VECTORS["envfile_update"]] + [
            "",
            "# c\nGOPROXY=a\nGOPROXY=b\n\nGOSUMDB=off",
            "GOPRIVATE=x\r\nGOFLAGS=-x\n",
        ]
        ops: list[tuple[dict[str, str], list[str]]] = [
            ({"GOPROXY": "https://p.example,direct", "GOFLAGS": "-mod=mod"}, []),
            ({}, ["GOPROXY"]),
            ({"GONOSUMDB": "corp.example", "GOAUTH": "off", "GOSUMDB": "off"}, []),
            ({"GOPRIVATE": ""}, []),
        ]
        cases = [(i, text, op) for i, text in enumerate(starts) for op in ops]

        def run(case: tuple[int, str, tuple[dict[str, str], list[str]]]) -> str:
            i, text, (set_, unset) = case
            f = tmp_path / f"env{i}-{len(set_)}-{len(unset)}"
            f.write_bytes(text.encode())
            env = plain_env(go_env, f)
            if set_:
                args = ["env", "-w", *(f"{k}={v}" for k, v in set_.items())]
            else:
                args = ["env", "-u", *unset]
            out = go(env, *args, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            return f.read_bytes().decode()

        for (_, text, (set_, unset)), theirs in zip(cases, pmap(run, cases), strict=True):
            assert goenv.update_env_file(text, set_, unset) == theirs, (text, set_, unset)

    def test_go_env_reads_back(self, go_env: dict[str, str], tmp_path: Path) -> None:
        """go env reports the effective values GoEnv computes from env, file and go.env."""
        goroot = go(go_env, "env", "GOROOT", cwd=tmp_path).stdout.strip()
        goroot_text = (Path(goroot) / "go.env").read_text()
        keys = ["GOPROXY", "GOSUMDB", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOFLAGS", "GOAUTH"]
        files = [
            "",
            goenv.update_env_file("", {"GOPROXY": "off", "GOPRIVATE": "corp.example"}),
            goenv.update_env_file("", {"GOPROXY": "", "GONOSUMDB": "x.example", "GOAUTH": "off"}),
            "GOSUMDB=sum.golang.org http://127.0.0.1:1\nGOFLAGS=-mod=mod -x\n# c\n",
        ]
        envs: list[dict[str, str]] = [
            {},
            {"GOPROXY": "", "GOPRIVATE": "env.example"},
            {"GOPROXY": "direct", "GONOPROXY": "none", "GOAUTH": ""},
        ]
        cases = [(i, f, e) for i, f in enumerate(files) for e in envs]

        def run(case: tuple[int, str, dict[str, str]]) -> dict[str, str]:
            i, text, extra = case
            f = tmp_path / f"read{i}-{len(extra)}"
            f.write_bytes(text.encode())
            out = go({**plain_env(go_env, f), **extra}, "env", "-json", *keys, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            return dict(json.loads(out.stdout))

        for (_, text, extra), theirs in zip(cases, pmap(run, cases), strict=True):
            env = goenv.GoEnv.from_texts(extra, text, goroot_text)
            assert {k: env.value(k) for k in keys} == theirs, (text, extra)

    def test_write_errors(self, go_env: dict[str, str], tmp_path: Path) -> None:
        """go env -w refuses what check_env_write refuses, with the same text."""
        cases = [c for c in VECTORS["env_write"] if c["error"] and "\x00" not in c["value"]]

        def run(case: dict[str, Any]) -> str:
            env = plain_env(go_env, tmp_path / "werr")
            return go(env, "env", "-w", f"{case['key']}={case['value']}", cwd=tmp_path).stderr

        for case, stderr in zip(cases, pmap(run, cases), strict=True):
            assert stderr == f"go: {case['error']}\n", case

    def test_file_location(self, go_env: dict[str, str], tmp_path: Path) -> None:
        """go env GOENV names the file env_file_path finds."""
        envs = [
            {"HOME": str(tmp_path / "h")},
            {"HOME": str(tmp_path / "h") + "/", "XDG_CONFIG_HOME": ""},
            {"HOME": str(tmp_path / "h"), "XDG_CONFIG_HOME": str(tmp_path / "x")},
            {"GOENV": str(tmp_path / "e")},
        ]

        def run(extra: dict[str, str]) -> str:
            env = {k: v for k, v in go_env.items() if k not in ("GOENV", "HOME")}
            return go({**env, **extra}, "env", "GOENV", cwd=tmp_path).stdout.strip()

        for extra, theirs in zip(envs, pmap(run, envs), strict=True):
            assert goenv.env_file_path(extra) == theirs, extra
