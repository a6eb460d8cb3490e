"""gomod.goenv grammars against the vector table tests/vectors/goenv.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import goenv

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "goenv.json").read_text()
)


class TestGoproxy:
    @pytest.mark.parametrize("case", VECTORS["goproxy"], ids=lambda c: ascii(c["goproxy"]))
    def test_table(self, case: dict[str, Any]) -> None:
        """parse_goproxy gives the table's list, or the go command's error text."""
        if "error" in case:
            with pytest.raises(InvalidInput) as e:
                goenv.parse_goproxy(case["goproxy"], case["gonoproxy"])
            assert str(e.value) == case["error"]
        else:
            got = goenv.parse_goproxy(case["goproxy"], case["gonoproxy"])
            assert [[s.url, s.fallback_on_error] for s in got] == case["out"]

    def test_split_keeps_entries_after_direct(self) -> None:
        """split_goproxy keeps what the go command ignores, for a checker to point at."""
        got = goenv.split_goproxy("direct, https://x.example |off")
        assert got == [
            goenv.ProxySpec("direct", False),
            goenv.ProxySpec("https://x.example", True),
            goenv.ProxySpec("off", False),
        ]


class TestGosumdb:
    @pytest.mark.parametrize("case", VECTORS["gosumdb"], ids=lambda c: ascii(c["gosumdb"]))
    def test_table(self, case: dict[str, Any]) -> None:
        """parse_gosumdb gives name, key and URL, None for off, or Go's error."""
        if "error" in case:
            with pytest.raises(InvalidInput) as e:
                goenv.parse_gosumdb(case["gosumdb"])
            assert str(e.value) == case["error"]
            return
        got = goenv.parse_gosumdb(case["gosumdb"])
        if case.get("off"):
            assert got is None
            return
        assert got is not None
        assert (got.name, got.key, got.url) == (case["name"], case["key"], case["url"])
        assert got.direct_url == "https://" + case["name"]

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("sum.example/", "invalid sumdb name (must be host[/path]): sum.example/ {"),
            ("sum.example?q", "invalid sumdb name (must be host[/path]): sum.example?q {"),
            ("u@sum.example", "invalid sumdb name (must be host[/path]): u@sum.example {"),
            ("sum.example/a%2fb", "invalid sumdb name (must be host[/path]): sum.example/a%2fb"),
            ("/path", "invalid sumdb name (must be host[/path]): /path {"),
            ("sum.example%zz", "invalid sumdb name (must be host[/path]): sum.example%zz"),
        ],
    )
    def test_bad_names(self, name: str, expected: str) -> None:
        """A key whose name is not host[/path] is refused, as dbDial does."""
        with pytest.raises(InvalidInput) as e:
            goenv.parse_gosumdb(make_key(name))
        assert str(e.value).startswith(expected)

    def test_good_name_with_path(self) -> None:
        """A name with a path is accepted and reached at https://name."""
        got = goenv.parse_gosumdb(make_key("sum.example/db"))
        assert got is not None
        assert got.direct_url == "https://sum.example/db"

    @pytest.mark.parametrize(
        ("key", "error"),
        [
            ("a+0000000+AQ==", "malformed verifier id"),
            ("a+0000000g+AQ==", "malformed verifier id"),
            ("+00000000+AQ==", "malformed verifier id"),
            ("a b+00000000+AQ==", "malformed verifier id"),
            ("a\udcff+00000000+AQ==", "malformed verifier id"),
            ("a+00000000+", "malformed verifier id"),
            ("a+00000000+!!!!", "malformed verifier id"),
            ("a+00000000+é", "malformed verifier id"),
        ],
    )
    def test_verifier_key_errors(self, key: str, error: str) -> None:
        """check_verifier_key reports note.NewVerifier's errors."""
        with pytest.raises(InvalidInput) as e:
            goenv.check_verifier_key(key)
        assert str(e.value) == error

    def test_verifier_algorithm_and_length(self) -> None:
        """A key of another algorithm, or of the wrong length, is refused."""
        with pytest.raises(InvalidInput, match="unknown verifier algorithm"):
            goenv.check_verifier_key(make_key("a", alg=2))
        with pytest.raises(InvalidInput, match="malformed verifier id"):
            goenv.check_verifier_key(make_key("a", size=31))


def make_key(name: str, alg: int = 1, size: int = 32) -> str:
    """A verifier key for ``name`` with a correct hash."""
    import base64
    import hashlib

    key = bytes([alg]) + bytes(range(size))
    h = hashlib.sha256(name.encode("utf-8", "surrogateescape") + b"\n" + key).digest()[:4]
    return f"{name}+{h.hex()}+{base64.b64encode(key).decode()}"


class TestGovcs:
    @pytest.mark.parametrize("case", VECTORS["govcs_parse"], ids=lambda c: ascii(c["govcs"]))
    def test_parse_table(self, case: dict[str, Any]) -> None:
        """parse_govcs gives the rules, or Go's error text."""
        if "error" in case:
            with pytest.raises(InvalidInput) as e:
                goenv.parse_govcs(case["govcs"])
            assert str(e.value) == case["error"]
        else:
            got = goenv.parse_govcs(case["govcs"])
            assert [[r.pattern, list(r.allowed)] for r in got] == case["rules"]

    @pytest.mark.parametrize(
        "case", VECTORS["govcs_check"], ids=lambda c: f"{c['govcs']}~{c['vcs']}~{c['root']}"
    )
    def test_check_table(self, case: dict[str, Any]) -> None:
        """check_govcs allows or refuses with Go's message."""
        try:
            goenv.check_govcs(case["govcs"], case["goprivate"], case["vcs"], case["root"])
            got = None
        except InvalidInput as e:
            got = str(e)
        assert got == case["error"]

    def test_no_rule_matches(self) -> None:
        """Without the defaults, a path no rule matches is refused."""
        rules = goenv.parse_govcs("a.example:git")
        assert not goenv.govcs_allows(rules, "b.example/x", False, "git")
        assert goenv.govcs_allows(rules, "a.example/x", False, "git")


class TestGoflags:
    @pytest.mark.parametrize("case", VECTORS["goflags"], ids=lambda c: ascii(c["goflags"]))
    def test_table(self, case: dict[str, Any]) -> None:
        """parse_goflags splits like quoted.Split and checks like InitGOFLAGS."""
        if "error" in case:
            with pytest.raises(InvalidInput) as e:
                goenv.parse_goflags(case["goflags"])
            assert str(e.value) == case["error"]
        else:
            assert goenv.parse_goflags(case["goflags"]) == case["out"]

    def test_known_set_is_a_parameter(self) -> None:
        """Another go version's flag set can be given."""
        assert goenv.parse_goflags("-new", frozenset({"new"})) == ["-new"]
        assert goenv.flag_name("--mod=mod") == "mod"


class TestEnvFile:
    @pytest.mark.parametrize("case", VECTORS["envfile_read"], ids=lambda c: ascii(c["text"]))
    def test_read(self, case: dict[str, Any]) -> None:
        """parse_env_file reads as cfg.readEnvFile does."""
        assert goenv.parse_env_file(case["text"]) == case["values"]

    @pytest.mark.parametrize("case", VECTORS["envfile_update"], ids=lambda c: ascii(c["text"]))
    def test_update(self, case: dict[str, Any]) -> None:
        """update_env_file writes what go env -w / -u writes."""
        assert goenv.update_env_file(case["text"], case["set"], case["unset"]) == case["out"]

    @pytest.mark.parametrize("case", VECTORS["env_write"], ids=lambda c: c["key"])
    def test_check_write(self, case: dict[str, Any]) -> None:
        """check_env_write refuses what go env -w refuses, with its text."""
        try:
            goenv.check_env_write(case["key"], case["value"])
            got = None
        except InvalidInput as e:
            got = str(e)
        assert got == case["error"]

    def test_check_write_accepts_keys_in_file_and_rejects_bad_utf8(self) -> None:
        """A key already in a file is known; a value that is not UTF-8 is refused."""
        goenv.check_env_write("MYVAR", "x", file_keys=["MYVAR"])
        with pytest.raises(InvalidInput, match=r"invalid UTF-8 in GOPRIVATE=\.\.\. value"):
            goenv.check_env_write("GOPRIVATE", "a\udcff")

    @pytest.mark.parametrize("case", VECTORS["env_file_path"], ids=lambda c: json.dumps(c["env"]))
    def test_path(self, case: dict[str, Any]) -> None:
        """env_file_path finds the file as cfg.EnvFile and os.UserConfigDir do."""
        if "error" in case:
            with pytest.raises(InvalidInput) as e:
                goenv.env_file_path(case["env"], case["goos"])
            assert str(e.value) == case["error"]
        else:
            assert goenv.env_file_path(case["env"], case["goos"]) == case["path"]

    def test_path_double_slash(self) -> None:
        """A HOME of // is cleaned as Go cleans it."""
        assert goenv.env_file_path({"XDG_CONFIG_HOME": "//cfg"}) == "/cfg/go/env"


class TestEffective:
    @pytest.mark.parametrize(
        "case", VECTORS["effective"], ids=lambda c: f"{c['key']}~{json.dumps(c['env'])}"
    )
    def test_table(self, case: dict[str, Any]) -> None:
        """GoEnv.get looks values up as cfg.Getenv/EnvOrAndChanged and names the origin."""
        env = goenv.GoEnv.from_texts(case["env"], case["user"], case["goroot"])
        got = env.get(case["key"])
        assert (got.value, got.origin.value, got.via, got.changed) == (
            case["value"],
            case["origin"],
            case["via"],
            case["changed"],
        )

    def test_shortcuts(self) -> None:
        """The typed accessors parse the effective values."""
        env = goenv.GoEnv.from_texts(
            {"GOPRIVATE": "corp.example", "GOFLAGS": "-mod=mod"},
            "GOSUMDB=off\n",
            "GOPROXY=https://p.example,direct\nGOSUMDB=sum.golang.org\n",
        )
        assert [s.url for s in env.goproxy()] == ["noproxy", "https://p.example", "direct"]
        assert env.gosumdb() is None
        assert env.goflags() == ["-mod=mod"]
        assert env.value("GONOSUMDB") == "corp.example"
        env.check_govcs("svn", "corp.example/r")
        with pytest.raises(InvalidInput, match="GOVCS disallows using svn for public"):
            env.check_govcs("svn", "other.example/r")

    def test_path_predicates(self) -> None:
        """The GOPRIVATE family decides per module path, with GOPRIVATE as the default."""
        env = goenv.GoEnv.from_texts(
            {"GOPRIVATE": "corp.example", "GONOSUMDB": "none", "GOINSECURE": "*.lan"},
            "",
            "GOSUMDB=sum.golang.org\n",
        )
        assert env.is_private("corp.example/x")
        assert env.is_direct("corp.example/x")
        assert not env.is_direct("other.example/x")
        assert env.uses_sumdb("corp.example/x")
        assert not env.uses_sumdb("none/x")
        assert env.is_insecure("git.lan/x")
        assert not env.is_insecure("git.example/x")
        off = goenv.GoEnv.from_texts({"GOSUMDB": "off"})
        assert not off.uses_sumdb("any.example/m")
