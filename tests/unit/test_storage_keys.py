"""The key scheme in ``ports/keys.py``: built and taken apart in one place."""

from __future__ import annotations

import pytest

from gomodproxy.errors import InvalidInput
from gomodproxy.ports import keys


def test_version_key_round_trip() -> None:
    """A version file's key escapes upper case, and parses back to the same module@version."""
    key = keys.version_key("github.com/Azure/sdk", "v1.0.0-RC1", "zip")
    assert key == "github.com/!azure/sdk/@v/v1.0.0-!r!c1.zip"
    assert key == keys.artifact_key("zip", "github.com/Azure/sdk", "v1.0.0-RC1")
    assert keys.parse_version_key(key) == ("github.com/Azure/sdk", "v1.0.0-RC1", "zip")
    assert keys.ziphash_key(key) == "github.com/!azure/sdk/@v/v1.0.0-!r!c1.ziphash"
    assert keys.parse_version_key(keys.ziphash_key(key)) == (
        "github.com/Azure/sdk",
        "v1.0.0-RC1",
        "ziphash",
    )
    assert key.startswith(keys.versions_prefix("github.com/Azure/sdk"))
    split = keys.split_version_key(key)
    assert split is not None
    assert keys.join_version_key(*split) == key


@pytest.mark.parametrize(
    "key",
    [
        "example.com/m/@v/list",
        "example.com/m/@latest",
        "sumdb/sum.example/lookup/example.com/m@v1.0.0",
        "_meta/refused/example.com/m",
        "example.com/m/@v/v1.0.0.exe",
        "example.com/m/@v/v1.0.0-!!.info",  # "!!" does not unescape
        "/@v/v1.0.0.info",
    ],
)
def test_parse_version_key_other_keys(key: str) -> None:
    """Keys that are not a version's file are None, never a half-parsed tuple."""
    assert keys.parse_version_key(key) is None


@pytest.mark.parametrize(
    ("key", "module"),
    [
        ("example.com/!m/@v/list", "example.com/M"),
        ("example.com/m/@latest", "example.com/m"),
        ("example.com/m/@v/v1.0.0.mod", "example.com/m"),
        ("sumdb/sum.example/tile/8/0/000", ""),
        ("_meta/readyz", ""),
        ("@latest", ""),
    ],
)
def test_module_of_key(key: str, module: str) -> None:
    assert keys.module_of_key(key) == module


def test_version_key_refuses_unknown_extension() -> None:
    with pytest.raises(InvalidInput, match="extension"):
        keys.version_key("example.com/m", "v1.0.0", "list")
