"""Properties of gomod.module, gomod.pseudo and gomod.globs: escaping round-trips, check
inclusions, pseudo-version round-trips and ordering, glob self-matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod import globs, module, pseudo, semver
from tests.property.strategies import (
    commit_times,
    escaped_paths,
    glob_targets,
    module_paths,
    pattern_lists,
    versions,
)

# Deterministic (CI must not flake) and free of timing limits on a loaded two-core machine.
PROPS = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def ok(fn: object, *args: str) -> bool:
    try:
        fn(*args)  # type: ignore[operator]
    except InvalidInput:
        return False
    return True


class TestEscaping:
    @PROPS
    @given(module_paths())
    def test_path_round_trip(self, p: str) -> None:
        """unescape_path(escape_path(p)) == p, and the escaped form has no upper case."""
        assume(ok(module.check_path, p))
        e = module.escape_path(p)
        assert e.lower() == e
        assert module.unescape_path(e) == p

    @PROPS
    @given(versions())
    def test_version_round_trip(self, v: str) -> None:
        """unescape_version(escape_version(v)) == v for every escapable version."""
        assume(ok(module.escape_version, v))
        e = module.escape_version(v)
        assert e.lower() == e
        assert module.unescape_version(e) == v

    @PROPS
    @given(escaped_paths())
    def test_unescape_then_escape(self, e: str) -> None:
        """An escaped path that unescapes escapes back to itself: the encoding is one-to-one."""
        assume(ok(module.unescape_path, e))
        assert module.escape_path(module.unescape_path(e)) == e


class TestChecks:
    @PROPS
    @given(module_paths())
    def test_module_import_file_inclusion(self, p: str) -> None:
        """Every module path is an import path, and every import path is a file path."""
        if ok(module.check_path, p):
            assert ok(module.check_import_path, p)
        if ok(module.check_import_path, p):
            assert ok(module.check_file_path, p)

    @PROPS
    @given(module_paths())
    def test_error_names_the_path(self, p: str) -> None:
        """A refused module path raises InvalidPathError naming kind and path."""
        assume(not ok(module.check_path, p))
        with pytest.raises(module.InvalidPathError) as info:
            module.check_path(p)
        assert str(info.value).startswith("malformed module path ")
        assert (info.value.kind, info.value.path) == ("module", p)

    @PROPS
    @given(module_paths())
    def test_split_reassembles(self, p: str) -> None:
        """prefix + path_major == p, and a major suffix is /vN (N >= 2) or gopkg.in's .vN."""
        prefix, major, good = module.split_path_version(p)
        assert prefix + major == p
        if good and major:
            assert major.startswith("/v") or (p.startswith("gopkg.in/") and major[:2] == ".v")

    @PROPS
    @given(module_paths(), versions())
    def test_check_implies_path_major(self, p: str, v: str) -> None:
        """check(p, v) passing means v is valid semver matching p's major suffix."""
        if ok(module.check, p, v):
            assert semver.is_valid(v)
            assert module.match_path_major(v, module.split_path_version(p)[1])

    @PROPS
    @given(module_paths(), versions())
    def test_can_be_incompatible_agrees_with_check(self, p: str, v: str) -> None:
        """can_be_incompatible(p, v) exactly when check accepts v+incompatible and refuses the
        plain v on an unsuffixed path."""
        if module.can_be_incompatible(p, v):
            base = v.removesuffix("+incompatible")
            assert ok(module.check, p, base + "+incompatible")
            assert not ok(module.check, p, base)
        elif ok(module.check_path, p) and semver.is_valid(v + "+incompatible"):
            # Otherwise the path has a major suffix or v already fits an unsuffixed path.
            assert module.split_path_version(p)[1] or ok(module.check, p, v)

    @PROPS
    @given(versions())
    def test_canonical_version_keeps_incompatible(self, v: str) -> None:
        """canonical_version is semver.canonical plus a kept +incompatible."""
        c = module.canonical_version(v)
        if semver.build(v) == "+incompatible":
            assert c == semver.canonical(v) + "+incompatible"
        else:
            assert c == semver.canonical(v)


_RELEASES = st.sampled_from(["", "v1.2.3", "v0.1.0", "v2.0.0+incompatible", "v1.9.99"])
_PRERELEASES = st.sampled_from(["v1.2.3-pre", "v0.0.1-rc.1", "v3.0.0-beta.2+incompatible"])
_REVS = st.text(alphabet="0123456789abcdef", min_size=12, max_size=12)


class TestPseudo:
    @PROPS
    @given(_RELEASES | _PRERELEASES, commit_times(), _REVS)
    def test_round_trip(self, older: str, t: datetime, rev: str) -> None:
        """A built pseudo-version parses back to its time, revision and base."""
        major = semver.major(older) or "v0"
        v = pseudo.pseudo_version(major, older, t, rev)
        assert pseudo.is_pseudo_version(v)
        assert pseudo.pseudo_version_time(v) == t.astimezone(UTC)
        assert pseudo.pseudo_version_rev(v) == rev
        assert pseudo.pseudo_version_base(v) == (
            semver.canonical(older) + semver.build(older) if older else ""
        )

    @PROPS
    @given(_RELEASES | _PRERELEASES, commit_times(), _REVS)
    def test_sorts_after_base(self, older: str, t: datetime, rev: str) -> None:
        """A pseudo-version sorts above its base and below the base's next patch release."""
        v = pseudo.pseudo_version(semver.major(older) or "v0", older, t, rev)
        if older:
            assert semver.compare(older, v) < 0
        if older and not semver.prerelease(older):
            nxt = pseudo.pseudo_version_base(v)  # the base; its next patch is above v
            major_minor, patch = semver.canonical(nxt).rsplit(".", 1)
            assert semver.compare(v, f"{major_minor}.{int(patch) + 1}") < 0

    @PROPS
    @given(st.sampled_from(["", "v0", "v1", "v2", "v7"]))
    def test_zero_is_zero(self, major: str) -> None:
        """zero_pseudo_version is recognized as zero and has no base."""
        z = pseudo.zero_pseudo_version(major)
        assert pseudo.is_zero_pseudo_version(z)
        assert pseudo.pseudo_version_base(z) == ""


class TestGlobs:
    @PROPS
    @given(module_paths())
    def test_literal_path_matches_itself_and_children(self, p: str) -> None:
        """A path without glob syntax matches itself and its sub-paths."""
        assume(p and not any(c in p for c in "*?[\\,") and not p.endswith("/"))
        assert globs.match_prefix_patterns(p, p)
        assert globs.match_prefix_patterns(p, p + "/sub")

    @PROPS
    @given(pattern_lists(), glob_targets())
    def test_trailing_slash_is_ignored(self, pats: str, target: str) -> None:
        """Adding one trailing slash to every entry changes nothing."""
        slashed = ",".join(g + "/" if g and not g.endswith("/") else g for g in pats.split(","))
        assert globs.match_prefix_patterns(pats, target) == globs.match_prefix_patterns(
            slashed, target
        )

    @PROPS
    @given(pattern_lists(), pattern_lists(), glob_targets())
    def test_list_is_a_union(self, a: str, b: str, target: str) -> None:
        """Matching a joined list is matching either list."""
        assert globs.match_prefix_patterns(f"{a},{b}", target) == (
            globs.match_prefix_patterns(a, target) or globs.match_prefix_patterns(b, target)
        )

    @PROPS
    @given(glob_targets())
    def test_star_matches_any_first_element(self, target: str) -> None:
        """ "*" matches every target whose first element has no slash issues: always."""
        assert globs.match_prefix_patterns("*", target)

    @pytest.mark.parametrize("bad", ["[", "a[", "\\", "[a-", "[]"])
    def test_malformed_never_matches(self, bad: str) -> None:
        """A malformed pattern matches nothing and path_match raises."""
        assert not globs.match_prefix_patterns(bad, "a")
        with pytest.raises(globs.BadPatternError):
            globs.path_match(bad, "a")
