"""gomod.gover against go/version (the oracle) on generated versions, and GOTOOLCHAIN and
GOAUTH against the real go command, offline: each error the tables list is the text go
prints, and the accepted settings do not fail as settings."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

from gomodproxy.gomod import goenv, gover
from tests.differential.oracle import SCALE, ask
from tests.differential.test_goenv_go import go, ours, pmap
from tests.unit.test_goenv_toolchain import VECTORS

N = 3000 * SCALE
_PIECES = [
    "1",
    "2",
    "0",
    "01",
    "21",
    "9",
    "10",
    "100",
    ".",
    ".",
    "rc",
    "beta",
    "alpha",
    "x",
    "RC",
    "",
]


def gen_version(r: random.Random) -> str:
    return "".join(r.choice(_PIECES) for _ in range(r.randrange(0, 7)))


class TestGover:
    def test_generated(self) -> None:
        """is_valid, lang and compare agree with go/version on generated versions."""
        r = random.Random(11)
        vs = [v["v"] for v in VECTORS["gover"] if "-" not in v["v"]]
        vs += [gen_version(r) for _ in range(N)]
        pairs = [(v, r.choice(vs)) for v in vs]
        answers = ask("gover.all", [{"V": v, "W": w} for v, w in pairs])
        for (v, w), a in zip(pairs, answers, strict=True):
            want_lang = a.result["lang"].removeprefix("go")
            assert (gover.is_valid(v), gover.lang(v) if gover.is_valid(v) else "") == (
                a.result["is_valid"],
                want_lang,
            ), v
            assert gover.compare(v, w) == a.result["compare"], (v, w)


class TestGotoolchain:
    def test_against_go(self, go_env: dict[str, str], tmp_path: Path) -> None:
        """go version refuses each GOTOOLCHAIN the table refuses, with the same text.
        (GOPROXY=off: a valid minimum newer than this go cannot be downloaded.)"""
        local = go(go_env, "env", "GOVERSION", cwd=tmp_path).stdout.strip()
        cases = [c["value"] for c in VECTORS["gotoolchain"] if c["value"]]
        cases += [local, local + "+auto", "go1.22.1+path"]

        def run(value: str) -> str:
            return go({**go_env, "GOTOOLCHAIN": value}, "version", cwd=tmp_path).stderr

        for value, stderr in zip(cases, pmap(run, cases), strict=True):
            mine = ours(partial(goenv.parse_gotoolchain, value))
            if mine is None:
                assert "invalid GOTOOLCHAIN" not in stderr, value
            else:
                assert stderr == f"go: {mine}\n", value


class TestGoauth:
    def test_against_go(self, go_env: dict[str, str], tmp_path: Path) -> None:
        """An https fetch refuses each GOAUTH the table refuses, with the same text. Only
        refused values run: an accepted one could run a credential helper."""
        (tmp_path / "go.mod").write_text("module example.com/w\n")
        cases = [c["value"] for c in VECTORS["goauth"] if "error" in c and c["value"]]
        cases += ["netrc;;netrc", "git;netrc", "netrc ; off"]

        def run(value: str) -> str:
            env = {**go_env, "GOPROXY": "https://127.0.0.1:1", "GOAUTH": value}
            return go(env, "mod", "download", "-json", "x.test/m@v1.0.0", cwd=tmp_path).stderr

        for value, stderr in zip(cases, pmap(run, cases), strict=True):
            mine = ours(partial(goenv.parse_goauth, value))
            assert mine is not None, value
            assert stderr == f"go: {mine}\n", value

    def test_default_reaches_the_network_layer(
        self, go_env: dict[str, str], tmp_path: Path
    ) -> None:
        """With GOAUTH=netrc the fetch gets past authentication to the (refused) connection."""
        (tmp_path / "go.mod").write_text("module example.com/w\n")
        env = {**go_env, "GOPROXY": "https://127.0.0.1:1", "GOAUTH": "netrc"}
        out = go(env, "mod", "download", "-json", "x.test/m@v1.0.0", cwd=tmp_path)
        assert goenv.parse_goauth("netrc") is not None
        assert "127.0.0.1:1" in out.stdout
