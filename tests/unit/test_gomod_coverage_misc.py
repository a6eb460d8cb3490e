"""Go-free cases for gomod branches that only the differential tests reached, so that the core
suite alone covers gomod/ (the Makefile's coverage gate runs without the oracle).

Expected values are the oracle's answers (go/version for gover, x/mod/modfile for replace);
the differential tests keep checking the same functions on generated inputs.
"""

from __future__ import annotations

import pytest

from gomodproxy.gomod import gover
from gomodproxy.gomod.modfile import ModFileError, Replace, parse_gomod


class TestGoverKindWithoutNumber:
    @pytest.mark.parametrize(
        ("v", "w", "want"),
        [
            ("1.21rc", "1.21rc1", -1),
            ("1.21rc", "1.21", 1),
            ("1.21rc", "1.20", 1),
            ("1.21rc", "1.21beta", 1),
        ],
    )
    def test_compare(self, v: str, w: str, want: int) -> None:
        """'1.21rc' is a valid prerelease with an empty number, below 'rc1', above '1.21'."""
        assert gover.compare(v, w) == want

    def test_valid_and_lang(self) -> None:
        """go/version accepts a bare prerelease kind in lower case only."""
        assert gover.is_valid("1.21rc")
        assert gover.lang("1.21rc") == "1.21"
        assert not gover.is_valid("1.21rC")
        assert gover.lang("1.21rC") == ""


class TestReplaceWithVersion:
    def test_module_replacement_versions(self) -> None:
        """replace ... => module version: the version is canonicalized, old version optional."""
        f = parse_gomod(
            "module m\n"
            "replace a.test/x v1.0.0 => b.test/y v1.2.0\n"
            "replace a.test/z => b.test/w v1.3.0-pre\n"
            "replace a.test/q => b.test/r v1.2\n",
            strict=True,
        )
        assert f.replace == (
            Replace("a.test/x", "v1.0.0", "b.test/y", "v1.2.0"),
            Replace("a.test/z", "", "b.test/w", "v1.3.0-pre"),
            Replace("a.test/q", "", "b.test/r", "v1.2.0"),
        )

    def test_directory_with_version(self) -> None:
        """A directory replacement cannot carry a version."""
        with pytest.raises(ModFileError) as info:
            parse_gomod("module m\nreplace a.test/x => ./y v1.2.0\n", strict=True)
        assert str(info.value) == (
            'go.mod:2: replacement module directory path "./y" cannot have version'
        )
