"""Pure direct-mode rules (gomod.coderepo) and the discovery parsers, without git or network.

Expected values come from cmd/go's coderepo.go and from runs of the real go command recorded
in the differential tests (tests/e2e/test_direct_differential.py).
"""

from __future__ import annotations

import pytest

from gomodproxy.config.origins import OriginOverride, parse_origin, parse_origins_config
from gomodproxy.errors import ConfigError
from gomodproxy.gomod import coderepo as cr
from gomodproxy.gomod.coderepo import Layout, Origin
from gomodproxy.sources.direct.coderepo import _retraction_intervals
from gomodproxy.sources.direct.discovery import parse_meta_go_imports


class TestLayout:
    @pytest.mark.parametrize(
        ("root", "subdir", "path", "want"),
        [
            ("github.com/a/b", "", "github.com/a/b", ("", "", "github.com/a/b")),
            ("github.com/a/b", "", "github.com/a/b/v2", ("", "/v2", "github.com/a/b")),
            ("github.com/a/b", "", "github.com/a/b/sub/v3", ("sub", "/v3", "github.com/a/b/sub")),
            ("gopkg.in/yaml.v2", "", "gopkg.in/yaml.v2", ("", ".v2", "gopkg.in/yaml.v2")),
            ("example.test/m/v2", "", "example.test/m/v2", ("", "/v2", "example.test/m/v2")),
            ("example.test/m", "go/sub", "example.test/m/x", ("x/go/sub", "", "example.test/m/x")),
        ],
    )
    def test_new(self, root: str, subdir: str, path: str, want: tuple[str, str, str]) -> None:
        """code_dir, path_major and path_prefix follow newCodeRepo."""
        lay = Layout.new(root, subdir, path)
        assert (lay.code_dir, lay.path_major, lay.path_prefix) == want

    def test_mismatched_repo(self) -> None:
        """A module outside the repository root is refused with Go's text."""
        with pytest.raises(
            ValueError, match=r"mismatched repo: found github\.com/a/b for x\.test/m"
        ):
            Layout.new("github.com/a/b", "", "x.test/m")

    def test_rev_for(self) -> None:
        """Versions map to prefixed tags, +incompatible dropped; pseudo-versions to revisions."""
        lay = Layout.new("github.com/a/b", "", "github.com/a/b/sub")
        assert lay.rev_for("v1.2.3") == "sub/v1.2.3"
        assert lay.rev_for("main") == "main"
        root = Layout.new("github.com/a/b", "", "github.com/a/b")
        assert root.rev_for("v2.0.0+incompatible") == "v2.0.0"
        assert root.rev_for("v0.0.0-20210101000000-abcdefabcdef") == "abcdefabcdef"


class TestVersions:
    def test_filter_and_incompatible(self) -> None:
        """Non-canonical, pseudo-looking and prefixed tags are dropped; v2+ become candidates."""
        lay = Layout.new("github.com/a/b", "", "github.com/a/b")
        tags = [
            "v1.0.0",
            "v1.1",
            "v1.2.0+meta",
            "v1.2.1-0.20200101000000-abcdefabcdef",
            "v2.0.0",
            "v3.1.0",
            "v3.0.0",
            "sub/v1.0.0",
            "junk",
        ]
        listed, incompatible = cr.versions_from_tags(lay, tags)
        assert listed == ["v1.0.0"]
        assert incompatible == ["v2.0.0", "v3.0.0", "v3.1.0"]
        assert cr.incompatible_candidates(lay, listed, incompatible) == [
            "v1.0.0",
            "v2.0.0",
            "v3.1.0",
        ]
        has = {"v1.0.0": False, "v2.0.0": False, "v3.1.0": True}
        got = cr.select_incompatible(lay, listed, incompatible, has.__getitem__)
        assert got == ["v1.0.0", "v2.0.0+incompatible"]
        has["v1.0.0"] = True
        assert cr.select_incompatible(lay, listed, incompatible, has.__getitem__) == ["v1.0.0"]

    def test_subdirectory_tags(self) -> None:
        """A subdirectory module takes only its prefixed tags, and never +incompatible."""
        lay = Layout.new("github.com/a/b", "", "github.com/a/b/sub")
        assert cr.versions_from_tags(lay, ["sub/v0.1.0", "sub/v2.0.0", "v1.0.0"]) == (
            ["v0.1.0"],
            [],
        )

    def test_gopkg_in_unstable_has_no_versions(self) -> None:
        """gopkg.in/x.v2-unstable lists nothing."""
        lay = Layout.new("gopkg.in/x.v2-unstable", "", "gopkg.in/x.v2-unstable")
        assert cr.versions_from_tags(lay, ["v2.0.0"]) == ([], [])

    def test_tag_to_version(self) -> None:
        """Tags canonicalize unless incomplete or pseudo-looking."""
        assert cr.tag_to_version("", "v1.2.0+meta") == ("v1.2.0", False)
        assert cr.tag_to_version("", "v1.2.0") == ("v1.2.0", True)
        assert cr.tag_to_version("", "v1.2") == ("", False)
        assert cr.tag_to_version("sub/", "v1.2.0") == ("", False)
        assert cr.tag_to_version("", "v0.0.0-20200101000000-abcdefabcdef") == ("", False)


class TestFindDir:
    def test_root_without_go_mod(self) -> None:
        """A root module without go.mod is fine for v0/v1 (synthesized go.mod)."""
        lay = Layout.new("github.com/a/b", "", "github.com/a/b")
        assert cr.find_dir(lay, "v1.0.0", "v1.0.0", None, None) == ("", None)

    def test_major_subdirectory(self) -> None:
        """/vN modules may live in the vN/ directory."""
        lay = Layout.new("github.com/a/b", "", "github.com/a/b/v2")
        gomod = b"module github.com/a/b/v2\n"
        assert cr.find_dir(lay, "v2.0.0", "v2.0.0", b"module github.com/a/b\n", gomod) == (
            "v2",
            gomod,
        )

    @pytest.mark.parametrize(
        ("path", "gomod1", "gomod2", "message"),
        [
            (
                "github.com/a/b",
                b"module github.com/a/b/v2\n",
                None,
                'go.mod has post-v2 module path "github.com/a/b/v2" at revision v2.0.0',
            ),
            ("github.com/a/b", b"// nothing\n", None, "go.mod is missing module path at revision"),
            (
                "github.com/a/b/v2",
                None,
                None,
                "missing github.com/a/b/go.mod and .../v2/go.mod at revision v2.0.0",
            ),
            (
                "github.com/a/b/v2",
                b"module github.com/a/b/v2\n",
                b"module github.com/a/b/v2\n",
                "both have .../v2 module paths",
            ),
        ],
    )
    def test_errors(
        self, path: str, gomod1: bytes | None, gomod2: bytes | None, message: str
    ) -> None:
        """Wrong layouts fail with cmd/go's findDir messages."""
        lay = Layout.new("github.com/a/b", "", path)
        with pytest.raises(ValueError, match=message.replace(".", r"\.")):
            cr.find_dir(lay, "v2.0.0", "v2.0.0", gomod1, gomod2)

    def test_module_path_of(self) -> None:
        """The cheap module-line reader handles comments and quotes."""
        assert cr.module_path_of(b"// c\nmodule  x.test/m // c\n") == "x.test/m"
        assert cr.module_path_of(b'module "x.test/q"\n') == "x.test/q"
        assert cr.module_path_of(b"modulex y\n") == ""


class TestOriginAndJson:
    def test_tag_sum_matches_go(self) -> None:
        """TagSum over two tags of one commit equals the value the go command printed."""
        h = "28517e60387872bd0e5baed127601e1a83841b87"
        assert cr.tag_sum([("v1.0.0", h), ("v1.1.0", h)], "") == (
            "t1:/+cqKpWJx35nrlgx3H9QRNJ7ySRU/tMHGDmoVHYpXUU="
        )

    def test_info_json(self) -> None:
        """.info is compact, in Go's field order, with UTC times and HTML-safe escapes."""
        origin = Origin(vcs="git", url="https://x.test/a&b", hash="ab", ref="refs/tags/v1.0.0")
        got = cr.info_json("v1.0.0", 1609459200, origin.for_version("v1.0.0"))
        assert got == (
            b'{"Version":"v1.0.0","Time":"2021-01-01T00:00:00Z","Origin":{"VCS":"git",'
            b'"URL":"https://x.test/a\\u0026b","Hash":"ab","Ref":"refs/tags/v1.0.0"}}'
        )
        pseudo = origin.for_version("v0.0.0-20210101000000-abcdefabcdef")
        assert pseudo.ref == ""

    def test_times(self) -> None:
        """Commit times format as Go does, including the pseudo-version stamp."""
        assert cr.format_time(0) == "1970-01-01T00:00:00Z"
        assert cr.pseudo_timestamp(1612137600) == "20210201000000"

    def test_retractions(self) -> None:
        """Retraction intervals are closed; the highest release lists them."""
        assert cr.is_retracted([("v1.0.0", "v1.2.0")], "v1.1.0")
        assert not cr.is_retracted([("v1.0.0", "v1.2.0")], "v1.3.0")
        assert cr.highest_for_retractions(["v1.0.0", "v1.1.0-rc.1", "v2.0.0+incompatible"]) == (
            "v1.0.0"
        )
        assert cr.legacy_go_mod("x.test/m") == b"module x.test/m\n"

    def test_retraction_intervals_of_a_go_mod(self) -> None:
        """The highest release's go.mod is read leniently (modfile.ParseLax): directives a
        newer Go added are skipped, each retraction is a closed interval."""
        gomod = (
            b"module x.test/m\n\nnewdirective v9\n"
            b"retract (\n\tv1.0.0 // broken\n\t[v1.1.0, v1.2.0]\n)\n"
        )
        assert _retraction_intervals(gomod) == [("v1.0.0", "v1.0.0"), ("v1.1.0", "v1.2.0")]
        assert _retraction_intervals(b"module x.test/m\n") == []


class TestDiscoveryParsing:
    def test_meta_tags(self) -> None:
        """go-import tags are read from the head only, mod entries first."""
        html = (
            "<html><head>"
            '<meta name="go-import" content="x.test/a git https://git.x.test/a">'
            '<meta name="go-import" content="x.test/a mod https://proxy.x.test">'
            '<meta name="go-import" content="x.test/b git https://git.x.test/b sub/dir">'
            '<meta name="go-import" content="too few">'
            "</head><body>"
            '<meta name="go-import" content="x.test/c git https://late">'
            "</body></html>"
        )
        got = [(m.prefix, m.vcs, m.repo_root, m.subdir) for m in parse_meta_go_imports(html)]
        assert got == [
            ("x.test/a", "mod", "https://proxy.x.test", ""),
            ("x.test/b", "git", "https://git.x.test/b", "sub/dir"),
        ]

    def test_origin_flag(self) -> None:
        """--origin PREFIX=git+URL parses; other VCS and bad specs are config errors."""
        assert parse_origin("golang.org/x/mod=git+file:///srv/git/mod.git") == OriginOverride(
            "golang.org/x/mod", "git", "file:///srv/git/mod.git"
        )
        for bad in ("nothing", "x.test/m=hg+https://h", "x.test/m=git+nourl", "=git+https://h"):
            with pytest.raises(ConfigError):
                parse_origin(bad)

    def test_origins_config(self) -> None:
        """[[origins]] tables parse with vcs defaulting to git."""
        got = parse_origins_config([{"prefix": "x.test/m/", "url": "ssh://git@h/m.git"}])
        assert got == [OriginOverride("x.test/m", "git", "ssh://git@h/m.git")]
        with pytest.raises(ConfigError):
            parse_origins_config([{"prefix": "x.test/m"}])
