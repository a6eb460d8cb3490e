"""gomod.gover, GOTOOLCHAIN and GOAUTH against tests/vectors/goenv_toolchain.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import goenv, gover

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "goenv_toolchain.json").read_text()
)


class TestGover:
    @pytest.mark.parametrize("case", VECTORS["gover"], ids=lambda c: c["v"] or "empty")
    def test_parse(self, case: dict[str, Any]) -> None:
        """is_valid, lang and is_lang as internal/gover answers them."""
        assert gover.is_valid(case["v"]) == case["valid"]
        assert gover.lang(case["v"]) == case["lang"]
        assert gover.is_lang(case["v"]) == case["is_lang"]

    def test_order(self) -> None:
        """compare orders the ascending list and calls equal neighbours equal."""
        groups = [g if isinstance(g, list) else [g] for g in VECTORS["ascending"]]
        for i, group in enumerate(groups):
            for a in group:
                for b in group:
                    assert gover.compare(a, b) == 0, (a, b)
                for later in groups[i + 1 :]:
                    for b in later:
                        assert gover.compare(a, b) == -1, (a, b)
                        assert gover.compare(b, a) == 1, (b, a)

    @pytest.mark.parametrize("case", VECTORS["from_toolchain"], ids=lambda c: c["name"])
    def test_from_toolchain(self, case: dict[str, Any]) -> None:
        """A toolchain name gives its Go version, or "" for what is not a go toolchain."""
        assert gover.from_toolchain(case["name"]) == case["v"]


class TestGotoolchain:
    @pytest.mark.parametrize("case", VECTORS["gotoolchain"], ids=lambda c: c["value"] or "empty")
    def test_table(self, case: dict[str, Any]) -> None:
        """parse_gotoolchain reads modes and minimums, or fails with Go's text."""
        if "error" in case:
            with pytest.raises(InvalidInput) as e:
                goenv.parse_gotoolchain(case["value"])
            assert str(e.value) == case["error"]
            return
        got = goenv.parse_gotoolchain(case["value"])
        if case.get("none"):
            assert got is None
            return
        assert got is not None
        assert (got.minimum, got.minimum_version, got.mode) == (
            case["minimum"],
            case["version"],
            case["mode"],
        )


class TestGoauth:
    @pytest.mark.parametrize("case", VECTORS["goauth"], ids=lambda c: c["value"] or "empty")
    def test_table(self, case: dict[str, Any]) -> None:
        """parse_goauth lists the commands, None for off, or Go's first error."""
        if "error" in case:
            with pytest.raises(InvalidInput) as e:
                goenv.parse_goauth(case["value"])
            assert str(e.value) == case["error"]
            return
        got = goenv.parse_goauth(case["value"])
        if case.get("off"):
            assert got is None
            return
        assert got is not None
        assert [[c.kind, list(c.words)] for c in got] == case["commands"]

    def test_effective_default(self) -> None:
        """With GOAUTH unset everywhere the effective value is netrc."""
        got = goenv.GoEnv().goauth()
        assert got == [goenv.AuthCommand("netrc", ("netrc",))]
        assert goenv.GoEnv({"GOTOOLCHAIN": "local"}).gotoolchain() == goenv.Toolchain(
            "local", "", ""
        )
