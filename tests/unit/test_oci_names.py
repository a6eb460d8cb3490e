"""The reversible mapping from storage keys to OCI repository names and tags (oci_names.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gomodproxy.storage.oci_names import (
    decode_element,
    decode_path,
    encode_element,
    encode_path,
    escape_version,
    is_repo_prefix,
    key_repo,
    key_tag,
    parse_version_key,
    tag_to_version,
    unescape_version,
    version_keys,
    version_to_tag,
)

# The grammars of the OCI distribution spec.
COMPONENT = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*")
TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
ESCAPED_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._~-!"


class TestModulePaths:
    @pytest.mark.parametrize(
        ("escaped", "repo"),
        [
            ("github.com/pkg/errors", "github.com/pkg/errors"),
            ("gopkg.in/yaml.v3", "gopkg.in/yaml.v3"),
            ("go.uber.org/multi_err", "go.uber.org/multi_err"),
            ("github.com/!azure/go-autorest", "github.com/x__efqxu5lsmu/go-autorest"),
            ("example.com/a~b", "example.com/x__mf7ge"),
            ("example.com/a__b", "example.com/x__mfpv6yq"),
            ("example.com/x__c", "example.com/x__pbpv6yy"),
            ("example.com/-lead", "example.com/x__fvwgkyle"),
        ],
    )
    def test_examples(self, escaped: str, repo: str) -> None:
        """Plain elements stay readable; others become x__<base32> and decode back."""
        assert encode_path(escaped) == repo
        assert decode_path(repo) == escaped

    @given(st.text(alphabet=ESCAPED_PATH_CHARS, min_size=1, max_size=40))
    def test_every_element_round_trips_and_is_valid(self, elem: str) -> None:
        """Any element over the escaped-path alphabet maps to a valid component and back."""
        comp = encode_element(elem)
        assert COMPONENT.fullmatch(comp)
        assert decode_element(comp) == elem

    @given(st.text(min_size=1, max_size=20).filter(lambda s: "/" not in s))
    def test_unicode_elements_round_trip(self, elem: str) -> None:
        """Even elements no module path can have (unicode, upper case) round-trip."""
        assert decode_element(encode_element(elem)) == elem

    def test_foreign_components_are_not_ours(self) -> None:
        """A component with __ that is not x__<base32> decodes to None."""
        assert decode_element("a__b") is None
        assert decode_element("x__1") is None


class TestVersions:
    @pytest.mark.parametrize(
        ("escaped", "tag"),
        [
            ("v1.2.3", "v1.2.3"),
            ("v2.0.0+incompatible", "v2.0.0_incompatible"),
            ("v1.0.0-!r!c1", "v1.0.0-RC1"),
            ("v0.0.0-20200101000000-abcdefabcdef", "v0.0.0-20200101000000-abcdefabcdef"),
            ("v1.0.0-!beta+incompatible", "v1.0.0-Beta_incompatible"),
        ],
    )
    def test_tags(self, escaped: str, tag: str) -> None:
        """Versions become tags with upper case kept and + as _, and come back."""
        version = unescape_version(escaped)
        assert version is not None
        assert version_to_tag(version) == tag
        assert TAG.fullmatch(tag)
        back = tag_to_version(tag)
        assert back is not None
        assert escape_version(back) == escaped

    @pytest.mark.parametrize("escaped", ["v1.0.0-!", "v1.0.0-!1", "V1", "v1."])
    def test_bad_escapes(self, escaped: str) -> None:
        """Broken !-escapes and raw upper case are not versions."""
        assert unescape_version(escaped) is None

    @pytest.mark.parametrize("version", ["v1_0", "v1 0", "-v1", "v" + "1" * 200])
    def test_untaggable_versions(self, version: str) -> None:
        """Versions that cannot be a tag map to None (the key is stored generically)."""
        assert version_to_tag(version) is None


class TestKeys:
    def test_version_key(self) -> None:
        """A version file key names its module repository, version tag and layer."""
        ref = parse_version_key("p", "github.com/!azure/x/@v/v2.0.0+incompatible.zip")
        assert ref is not None
        assert ref.repo == "p/modules/github.com/x__efqxu5lsmu/x"
        assert ref.tag == "v2.0.0_incompatible"
        assert ref.ext == "zip"
        assert version_keys("p", ref.repo, ref.tag, ["info", "zip"]) == [
            "github.com/!azure/x/@v/v2.0.0+incompatible.info",
            "github.com/!azure/x/@v/v2.0.0+incompatible.zip",
        ]

    @pytest.mark.parametrize(
        "key",
        [
            "example.com/m/@v/list",
            "example.com/m/@latest",
            "sumdb/sum.example/tile/8/0/000",
            "example.com/m/@v/v1.0.0.txt",
            "example.com/" + "a" * 300 + "/@v/v1.0.0.info",
        ],
    )
    def test_other_keys_are_generic(self, key: str) -> None:
        """Lists, latest, sumdb tiles and over-long names go to the generic key repository."""
        assert parse_version_key("p", key) is None
        assert key_repo("p") == "p/keys"
        assert TAG.fullmatch(key_tag(key))

    def test_foreign_repositories_yield_no_keys(self) -> None:
        """Repositories outside our prefix, or not decodable, yield no keys."""
        assert version_keys("p", "p/modules/example.com/a__b", "v1.0.0", ["info"]) == []
        assert version_keys("p", "other/modules/example.com/m", "v1.0.0", ["info"]) == []

    @pytest.mark.parametrize(
        ("prefix", "ok"),
        [("gomods", True), ("a/b-c/d.e", True), ("Upper", False), ("a//b", False), ("", False)],
    )
    def test_repo_prefix(self, prefix: str, ok: bool) -> None:
        """The repository prefix must itself be a valid repository name."""
        assert is_repo_prefix(prefix) is ok
