"""gomod.coderepo branches not reached by the direct-mode tests, each checked against cmd/go.

Expected texts are those of cmd/go/internal/modfetch/coderepo.go (newCodeRepo, findDir,
isMajor, LegacyGoMod, retractedVersions), codehost/git.go (Tags' TagSum, repoSum) and
x/mod's module.ModuleError; quoting and ModulePath answers were checked against the oracle
(tests/differential/test_coderepo.py repeats those checks on generated inputs).
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from gomodproxy.gomod import coderepo as cr
from gomodproxy.gomod.coderepo import Layout, ModuleVersionError, Origin

H1 = "28517e60387872bd0e5baed127601e1a83841b87"
H2 = "4f1b1b0e2a1c8f7f3e8d9b6a5c4d3e2f1a0b9c8d"


class TestModuleVersionError:
    @pytest.mark.parametrize(
        ("version", "kwargs", "text"),
        [
            ("v1.2.3", {}, "x.test/m@v1.2.3: invalid version: boom"),
            (
                "v0.0.0-20200101000000-abcdefabcdef",
                {"pseudo_version": True},
                "x.test/m@v0.0.0-20200101000000-abcdefabcdef: invalid pseudo-version: boom",
            ),
            ("v1.2.3", {"kind": "plain"}, "x.test/m@v1.2.3: boom"),
            ("", {"kind": "plain"}, "module x.test/m: boom"),
        ],
    )
    def test_texts(self, version: str, kwargs: dict[str, bool | str], text: str) -> None:
        """The three shapes of module.ModuleError.Error(), InvalidVersionError's noun included."""
        err = ModuleVersionError("x.test/m", version, "boom", **kwargs)  # type: ignore[arg-type]
        assert str(err) == text
        assert (err.path, err.version, err.reason, err.not_exist) == (
            "x.test/m",
            version,
            "boom",
            True,
        )

    def test_not_exist_flag(self) -> None:
        """not_exist is carried for the 404/other decision of the proxy."""
        assert not ModuleVersionError("x.test/m", "v1.0.0", "x", not_exist=False).not_exist


class TestLayoutEdges:
    def test_has_path_prefix(self) -> None:
        """str.HasPathPrefix: element boundaries, a prefix ending in '/', shorter strings."""
        assert cr.has_path_prefix("a/b/c", "a/b")
        assert not cr.has_path_prefix("a/bc", "a/b")
        assert cr.has_path_prefix("a/bc", "a/")
        assert cr.has_path_prefix("a/b", "a/b")
        assert not cr.has_path_prefix("a/c", "a/b")
        assert not cr.has_path_prefix("a", "a/b")
        assert cr.has_path_prefix("/a", "")
        assert not cr.has_path_prefix("a", "")

    @pytest.mark.parametrize(
        ("root", "path", "quoted"),
        [
            ("x.test/m", "x.test/m/v1", '"x.test/m/v1"'),
            ("x.test/m", "x.test/m/v02", '"x.test/m/v02"'),
            ("gopkg.in", "gopkg.in/yaml", '"gopkg.in/yaml"'),
            ("x.test", "x.test/m\a/v1", '"x.test/m\\a/v1"'),
        ],
    )
    def test_invalid_module_path(self, root: str, path: str, quoted: str) -> None:
        """A path SplitPathVersion rejects fails with newCodeRepo's %q text."""
        with pytest.raises(ValueError) as info:
            Layout.new(root, "", path)
        assert str(info.value) == f"invalid module path {quoted}"

    def test_root_cannot_contain(self) -> None:
        """A root ending in '/' matches the path but not its prefix without the /vN suffix."""
        with pytest.raises(ValueError) as info:
            Layout.new("x.test/m/", "", "x.test/m/v2")
        assert str(info.value) == "repository rooted at x.test/m/ cannot contain module x.test/m/v2"

    def test_subdir_is_cleaned(self) -> None:
        """filepath.Join cleans the meta-tag subdirectory into code_dir."""
        lay = Layout.new("x.test/r", "go/./a/../b", "x.test/r/v2")
        assert (lay.code_dir, lay.tag_prefix, lay.pseudo_major) == ("go/b", "go/b/", "v2")
        assert lay.rev_for("v2.1.0") == "go/b/v2.1.0"


class TestGoQuote:
    @pytest.mark.parametrize(
        ("s", "want"),
        [
            ('a"b\\c', '"a\\"b\\\\c"'),
            ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
            ("\x00\x1f\x7f", '"\\x00\\x1f\\x7f"'),
            ("\x85\u00a0\u2028", '"\\u0085\\u00a0\\u2028"'),
            ("\U000e0001", '"\\U000e0001"'),
            ("é\U0001fae8", '"é\U0001fae8"'),  # U+1FAE8 is printable since Unicode 15
            ("\udcff", '"\\xff"'),  # a raw byte kept by surrogateescape
        ],
    )
    def test_like_strconv_quote(self, s: str, want: str) -> None:
        """%q as Go writes it: named escapes, \\x for C0, \\u/\\U by Go's IsPrint tables."""
        assert cr.go_quote(s) == want


class TestVersionLists:
    def test_no_candidates(self) -> None:
        """Without +incompatible candidates, or for a /vN module, no go.mod is read."""
        root = Layout.new("x.test/m", "", "x.test/m")
        v2 = Layout.new("x.test/m", "", "x.test/m/v2")
        calls: list[str] = []

        def has(v: str) -> bool:
            calls.append(v)
            return False

        assert cr.incompatible_candidates(root, ["v1.0.0"], []) == []
        assert cr.incompatible_candidates(v2, ["v2.0.0"], ["v3.0.0"]) == []
        assert cr.select_incompatible(root, ["v1.0.0"], [], has) == ["v1.0.0"]
        assert cr.select_incompatible(v2, ["v2.0.0"], ["v3.0.0"], has) == ["v2.0.0"]
        assert calls == []

    def test_only_incompatible(self) -> None:
        """With no v0/v1 tag, each major's latest decides; the list order is kept."""
        root = Layout.new("x.test/m", "", "x.test/m")
        inc = ["v2.0.0", "v2.1.0", "v3.0.0", "v4.0.0"]
        assert cr.incompatible_candidates(root, [], inc) == ["v2.1.0", "v3.0.0", "v4.0.0"]
        has = {"v2.1.0": False, "v3.0.0": True, "v4.0.0": False}
        assert cr.select_incompatible(root, [], inc, has.__getitem__) == [
            "v2.0.0+incompatible",
            "v2.1.0+incompatible",
            "v4.0.0+incompatible",
        ]

    def test_gopkg_in_versions(self) -> None:
        """gopkg.in/x.v2 takes v2 tags only and never +incompatible."""
        lay = Layout.new("gopkg.in/x.v2", "", "gopkg.in/x.v2")
        assert cr.versions_from_tags(lay, ["v1.0.0", "v2.0.0", "v2.1.0", "v3.0.0"]) == (
            ["v2.0.0", "v2.1.0"],
            [],
        )

    def test_tag_to_version_prefix(self) -> None:
        """Tags of a subdirectory module are read without their prefix."""
        assert cr.tag_to_version("sub/", "sub/v1.2.0") == ("v1.2.0", True)
        assert cr.tag_to_version("sub/", "sub/v1.2.0-pre+meta") == ("v1.2.0-pre", False)
        assert cr.tag_to_version("sub/", "sub/junk") == ("", False)
        # Go asks IsPseudoVersion of the whole tag, so a prefixed pseudo-looking tag passes.
        pv = "v0.0.0-20200101000000-abcdefabcdef"
        assert cr.tag_to_version("sub/", "sub/" + pv) == (pv, True)

    @pytest.mark.parametrize(
        ("tag", "want"),
        [
            ("v1.2.3", True),
            ("v1.2", False),  # Canonical is "v1.2.0", not a prefix of the tag
            ("v1.2.3+meta", True),
            ("v1.2.3-pre", True),
            ("v1.2.3-0.20200101000000-abcdefabcdef", False),
            ("junk", False),
            ("1.2.3", False),
        ],
    )
    def test_is_origin_tag(self, tag: str, want: bool) -> None:
        """codehost.isOriginTag: Canonical(tag) is a prefix of tag, not a pseudo-version."""
        assert cr.is_origin_tag(tag) is want


def _go_sum(prefix: str, lines: list[tuple[str, str]]) -> str:
    # The format of git.go: fmt.Fprintf(h, "%q %s\n", name, hash) over the kept lines.
    h = hashlib.sha256()
    for name, hash_ in lines:
        h.update(f'"{name}" {hash_}\n'.encode())
    return prefix + base64.b64encode(h.digest()).decode()


class TestSums:
    def test_tag_sum_skips_non_origin_tags(self) -> None:
        """Only isOriginTag tags, judged without the directory of the prefix, are hashed."""
        tags = [
            ("sub/v1.1.0", H2),
            ("sub/junk", H1),
            ("sub/v1.0.0", H1),
            ("sub/v0.0.0-20200101000000-abcdefabcdef", H1),
        ]
        got = cr.tag_sum(tags, "sub/")
        assert got == _go_sum("t1:", [("sub/v1.0.0", H1), ("sub/v1.1.0", H2)])
        assert got == cr.tag_sum([("sub/v1.0.0", H1), ("sub/v1.1.0", H2)], "sub/")

    def test_tag_sum_of_nothing(self) -> None:
        """No tags: the hash of no input (git.go still sets TagSum)."""
        assert cr.tag_sum([], "") == "t1:" + base64.b64encode(hashlib.sha256().digest()).decode()

    def test_repo_sum(self) -> None:
        """RepoSum hashes every ref, sorted by name, quoted with %q."""
        refs = {"refs/tags/v1.0.0": H2, "HEAD": H1, "refs/heads/main": H1}
        assert cr.repo_sum(refs) == _go_sum(
            "r1:", [("HEAD", H1), ("refs/heads/main", H1), ("refs/tags/v1.0.0", H2)]
        )

    def test_repo_sum_quotes(self) -> None:
        """A ref name with a quote is hashed in its %q form."""
        h = hashlib.sha256(b'"refs/tags/a\\"b" ' + H1.encode() + b"\n")
        assert cr.repo_sum({'refs/tags/a"b': H1}) == "r1:" + base64.b64encode(h.digest()).decode()


class TestModulePathOf:
    @pytest.mark.parametrize(
        ("gomod", "want"),
        [
            (b"module x.test/m\n", "x.test/m"),
            (b"module\txy\r\n", "xy"),
            (b"module `x.test/raw`\n", "x.test/raw"),
            (b"module `x.test/a\rb`\n", "x.test/ab"),
            (b"module `x`y`\n", ""),
            (b'module "x.test/\\x41"\n', "x.test/A"),
            (b'module "x.test/\\101"\n', "x.test/A"),
            (b'module "x.test/\\U00000041"\n', "x.test/A"),
            (b'module "x.test/\\/"\n', ""),
            (b'module "a\x01b"\n', "a\x01b"),
            (b'module "a" "b"\n', ""),
            (b'module "x\n', ""),
            (b"module\xc2\xa0x.test/m\n", "x.test/m"),
            (b"module \xe3\x80\x80x.test/m\xe3\x80\x80\n", "x.test/m"),
            (b"\xc2\x85module x.test/n\n", "x.test/n"),
            (b"module\n", ""),
            (b"", ""),
        ],
    )
    def test_like_modfile_module_path(self, gomod: bytes, want: str) -> None:
        """modfile.ModulePath: Unicode TrimSpace, strconv.Unquote (answers from the oracle)."""
        assert cr.module_path_of(gomod) == want


class TestIsMajor:
    @pytest.mark.parametrize(
        ("mpath", "path_major", "want"),
        [
            ("", "", False),
            ("x.test/m/v1", "", False),  # SplitPathVersion rejects /v1
            ("x.test/m", "", True),
            ("gopkg.in/x.v1", "", True),
            ("gopkg.in/x.v0", "", True),
            ("gopkg.in/x.v2", "", False),
            ("x.test/m/v2", "", False),
            ("x.test/m", "/v2", False),
            ("x.test/m/v2", "/v2", True),
            ("gopkg.in/x.v2-unstable", "/v2", False),  # "v2" != "v2-unstable"
            ("gopkg.in/x.v2", "/v2", True),
            ("x.test/m/v3", "/v2", False),
            ("x.test/m", ".v1", False),
        ],
    )
    def test_is_major(self, mpath: str, path_major: str, want: bool) -> None:
        """coderepo.isMajor, including gopkg.in and the -unstable suffix."""
        assert cr.is_major(mpath, path_major) is want


class TestFindDirMore:
    def test_root_go_mod(self) -> None:
        """A matching go.mod at code_dir wins (no major subdirectory for a root /vN path)."""
        lay = Layout.new("x.test/m", "", "x.test/m")
        gomod = b"module x.test/m\n"
        assert cr.find_dir(lay, "v1.0.0", "v1.0.0", gomod, None) == ("", gomod)
        sub = Layout.new("x.test/m", "", "x.test/m/sub/v2")
        gomod2 = b"module x.test/m/sub/v2\n"
        assert cr.find_dir(sub, "v2.0.0", "sub/v2.0.0", gomod2, None) == ("sub", gomod2)

    def test_unversioned_replaces_gopkg_in(self) -> None:
        """golang.org/issue/34254: an unversioned module may carry a gopkg.in go.mod path."""
        lay = Layout.new("x.test/m", "", "x.test/m")
        gomod = b"module gopkg.in/m.v3\n"
        assert cr.find_dir(lay, "v1.0.0", "v1.0.0", gomod, None) == ("", gomod)

    def test_gopkg_in_without_go_mod(self) -> None:
        """gopkg.in roots may have no go.mod at all."""
        lay = Layout.new("gopkg.in/x.v2", "", "gopkg.in/x.v2")
        assert not cr.needs_major_dir(lay)
        assert cr.find_dir(lay, "v2.0.0", "v2.0.0", None, None) == ("", None)

    @pytest.mark.parametrize(
        ("root", "path", "gomod1", "gomod2", "message"),
        [
            (
                "x.test/m",
                "x.test/m/v2",
                None,
                b"// empty\n",
                "x.test/m/v2/go.mod is missing module path at revision r1",
            ),
            (
                "x.test/m",
                "x.test/m/v2",
                None,
                b"module x.test/m/v3\n",
                'x.test/m/v2/go.mod has non-.../v2 module path "x.test/m/v3" at revision r1',
            ),
            (
                "x.test/m",
                "x.test/m/sub/v2",
                None,
                b"module x.test/m\n",
                'x.test/m/sub/v2/go.mod has non-.../v2 module path "x.test/m" at revision r1',
            ),
            (
                "x.test/m",
                "x.test/m/v2",
                b"module x.test/m\n",
                None,
                'go.mod has non-.../v2 module path "x.test/m" '
                "(and .../v2/go.mod does not exist) at revision r1",
            ),
            (
                "x.test/m",
                "x.test/m/v2",
                b"\n",
                None,
                "go.mod is missing module path (and .../v2/go.mod does not exist) at revision r1",
            ),
            (
                "gopkg.in/x.v2",
                "gopkg.in/x.v2",
                b"module gopkg.in/x.v3\n",
                None,
                'go.mod has non-....v2 module path "gopkg.in/x.v3" at revision r1',
            ),
            (
                "x.test/m",
                "x.test/m",
                b"module x.test/m/v1\n",
                None,
                'go.mod has malformed module path "x.test/m/v1" at revision r1',
            ),
            (
                "x.test/m",
                "x.test/m/sub",
                b"module x.test/m/sub/v3\n",
                None,
                'sub/go.mod has post-v3 module path "x.test/m/sub/v3" at revision r1',
            ),
            (
                "x.test/m",
                "x.test/m/sub",
                None,
                None,
                "missing x.test/m/sub/go.mod at revision r1",
            ),
            (
                "x.test/m/v2",
                "x.test/m/v2",
                None,
                None,
                "missing x.test/m/v2/go.mod at revision r1",
            ),
        ],
    )
    def test_messages(
        self,
        root: str,
        path: str,
        gomod1: bytes | None,
        gomod2: bytes | None,
        message: str,
    ) -> None:
        """Each findDir error, word for word."""
        lay = Layout.new(root, "", path)
        version = "v3.0.0" if "post-v3" in message else "v2.0.0"
        with pytest.raises(ValueError) as info:
            cr.find_dir(lay, version, "r1", gomod1, gomod2)
        assert str(info.value) == message


class TestLegacyGoMod:
    @pytest.mark.parametrize(
        ("path", "want"),
        [
            ("x.test/m", b"module x.test/m\n"),
            ("x.test/a b", b'module "x.test/a b"\n'),
            ("x.test/it's", b'module "x.test/it\'s"\n'),
            ("x.test/(m)", b'module "x.test/(m)"\n'),
            ("(", b"module (\n"),
            ("x.test//m", b'module "x.test//m"\n'),
            ("x.test/*m/*", b'module "x.test/*m/*"\n'),
            ("", b'module ""\n'),
            ("x.test/\u00a0", b'module "x.test/\\u00a0"\n'),
            ("x.test/é\U0001fae8", "module x.test/é\U0001fae8\n".encode()),
        ],
    )
    def test_auto_quote(self, path: str, want: bytes) -> None:
        """modfile.AutoQuote: quote on space, quotes, brackets (beyond one byte), comments
        and runes unicode.IsPrint rejects (Go's tables, Unicode 15)."""
        assert cr.legacy_go_mod(path) == want


class TestJsonAndRetractions:
    def test_info_without_origin(self) -> None:
        """No Origin key when there is none or when every field is empty."""
        want = b'{"Version":"v1.0.0","Time":"2021-01-01T00:00:00Z"}'
        assert cr.info_json("v1.0.0", 1609459200, None) == want
        assert cr.info_json("v1.0.0", 1609459200, Origin()) == want

    def test_origin_json_order(self) -> None:
        """All Origin fields in codehost.Origin's order; for_version keeps Ref of tags only."""
        o = Origin("git", "u", "s", "h", "p", "t", "r", "rs")
        assert list(o.to_json_dict()) == [
            "VCS",
            "URL",
            "Subdir",
            "Hash",
            "TagPrefix",
            "TagSum",
            "Ref",
            "RepoSum",
        ]
        assert o.for_version("v1.0.0").to_json_dict() == {
            "VCS": "git",
            "URL": "u",
            "Subdir": "s",
            "Hash": "h",
            "Ref": "r",
        }

    def test_go_json_escapes(self) -> None:
        """encoding/json's HTML-safe escapes, other non-ASCII raw."""
        assert cr.go_json({"a": "<&>\u2028\u2029é"}) == (
            '{"a":"\\u003c\\u0026\\u003e\\u2028\\u2029é"}'.encode()
        )

    @pytest.mark.parametrize(
        ("unix", "want"),
        [
            (951782400, "2000-02-29T00:00:00Z"),
            (4107542399, "2100-02-28T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (-62135596800, "0001-01-01T00:00:00Z"),
        ],
    )
    def test_format_time(self, unix: int, want: str) -> None:
        """Leap days, century years and times before 1970 format as Go's time.Time does."""
        assert cr.format_time(unix) == want

    @pytest.mark.parametrize(
        ("versions", "want"),
        [
            ([], ""),
            (["v2.0.0+incompatible"], ""),
            (["v1.0.0", "v1.1.0"], "v1.1.0"),
            (["v1.0.0-a", "v1.0.0-b"], "v1.0.0-b"),
            (["v1.0.0", "v1.1.0-pre"], "v1.0.0"),
        ],
    )
    def test_highest_for_retractions(self, versions: list[str], want: str) -> None:
        """retractedVersions: stop at +incompatible, latest release, else latest prerelease."""
        assert cr.highest_for_retractions(versions) == want

    def test_is_retracted_bounds(self) -> None:
        """Both ends of an interval are retracted; a single version is [v, v]."""
        iv = [("v1.0.0", "v1.2.0"), ("v1.5.0", "v1.5.0")]
        assert [cr.is_retracted(iv, v) for v in ("v1.0.0", "v1.2.0", "v1.5.0", "v1.4.0")] == [
            True,
            True,
            True,
            False,
        ]


class TestGoJsonInvalidUtf8:
    def test_surrogates_become_escaped_replacement(self) -> None:
        """encoding/json writes each invalid UTF-8 byte (a surrogateescape'd str) as \\ufffd;
        \\b and \\f keep their short escapes (Go >= 1.22), other C0 bytes are \\u00XX."""
        assert cr.go_json({"Ref": "refs/tags/v\udcff\udcfe"}) == (
            b'{"Ref":"refs/tags/v\\ufffd\\ufffd"}'
        )
        assert cr.go_json({"a": "\b\f\x01\x7f"}) == b'{"a":"\\b\\f\\u0001\x7f"}'
