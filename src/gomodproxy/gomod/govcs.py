"""GOVCS, as cmd/go/internal/vcs/vcs.go ``parseGOVCS`` and ``checkGOVCS`` read it.

A comma-separated list of ``pattern:vcs|vcs`` rules; ``public`` and ``private`` are special
patterns (private means: matches GOPRIVATE), ``all`` allows every VCS, anything else that is
not a VCS name (``off``) allows none. The first rule whose pattern matches the repository root
decides; the defaults ``private:all,public:git|hg`` follow the user's rules. Fetching through a
proxy (the ``mod`` scheme) is always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod._gostr import quote as go_quote
from gomodproxy.gomod._gostrings import go_trim_space
from gomodproxy.gomod.globs import match_prefix_patterns

__all__ = ["DEFAULT_GOVCS", "GovcsRule", "check_govcs", "govcs_allows", "parse_govcs"]


@dataclass(frozen=True)
class GovcsRule:
    """One GOVCS rule, e.g. ``private:hg|svn``."""

    pattern: str
    allowed: tuple[str, ...]


#: Appended after the user's rules, so they can be overridden but never removed.
DEFAULT_GOVCS = (GovcsRule("private", ("all",)), GovcsRule("public", ("git", "hg")))


def _is_relative_path(pattern: str) -> bool:
    return pattern.startswith(("./", "../")) or pattern in (".", "..")


def parse_govcs(govcs: str) -> tuple[GovcsRule, ...]:
    """Parse GOVCS into the user's rules (without the defaults).

    Raises:
        InvalidInput: ``empty entry in GOVCS``, ``malformed entry in GOVCS (missing colon):
            "x"``, ``empty pattern in GOVCS: ...``, ``empty VCS list in GOVCS: ...``,
            ``relative pattern not allowed in GOVCS: ...``, ``unreachable pattern in GOVCS:
            "b:git" after "b:hg"`` or ``empty VCS name in GOVCS: ...``.
    """
    govcs = go_trim_space(govcs)
    if govcs == "":
        return ()
    rules = []
    have: dict[str, str] = {}
    for raw in govcs.split(","):
        item = go_trim_space(raw)
        if item == "":
            raise InvalidInput("empty entry in GOVCS")
        pattern, colon, vcs_list = item.partition(":")
        if not colon:
            raise InvalidInput(f"malformed entry in GOVCS (missing colon): {go_quote(item)}")
        pattern, vcs_list = go_trim_space(pattern), go_trim_space(vcs_list)
        if pattern == "":
            raise InvalidInput(f"empty pattern in GOVCS: {go_quote(item)}")
        if vcs_list == "":
            raise InvalidInput(f"empty VCS list in GOVCS: {go_quote(item)}")
        if _is_relative_path(pattern):
            raise InvalidInput(f"relative pattern not allowed in GOVCS: {go_quote(pattern)}")
        if pattern in have:
            raise InvalidInput(
                f"unreachable pattern in GOVCS: {go_quote(item)} after {go_quote(have[pattern])}"
            )
        have[pattern] = item
        allowed = []
        for a in vcs_list.split("|"):
            a = go_trim_space(a)
            if a == "":
                raise InvalidInput(f"empty VCS name in GOVCS: {go_quote(item)}")
            allowed.append(a)
        rules.append(GovcsRule(pattern, tuple(allowed)))
    return tuple(rules)


def govcs_allows(rules: tuple[GovcsRule, ...], root: str, private: bool, vcs: str) -> bool:
    """Report whether the first rule matching ``root`` allows ``vcs`` (none match: no)."""
    for rule in rules:
        if rule.pattern == "private":
            match = private
        elif rule.pattern == "public":
            match = not private
        else:
            match = match_prefix_patterns(rule.pattern, root)
        if match:
            return any(a in (vcs, "all") for a in rule.allowed)
    return False


def check_govcs(govcs: str, goprivate: str, vcs: str, root: str) -> None:
    """Check that GOVCS lets the go command use ``vcs`` (``git``, ``hg``, ...) for a repo.

    ``root`` is the repository root path (the go-import prefix), not the module path.

    Raises:
        InvalidInput: a GOVCS parse error, or ``GOVCS disallows using svn for public
            example.com/r; see 'go help vcs'``.
    """
    if vcs == "mod":
        return
    rules = parse_govcs(govcs) + DEFAULT_GOVCS
    private = match_prefix_patterns(goprivate, root)
    if not govcs_allows(rules, root, private, vcs):
        what = "private" if private else "public"
        raise InvalidInput(f"GOVCS disallows using {vcs} for {what} {root}; see 'go help vcs'")
