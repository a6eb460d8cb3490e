"""May this principal read this module? Rules of GOPRIVATE-style patterns → principals.

Grammar of the ``access_rules`` setting: rules separated by ``;``, each ``GLOBS=WHO``, where
GLOBS is a comma-separated glob list exactly as GOPRIVATE (``module.MatchPrefixPatterns``:
``corp.example.com`` also covers ``corp.example.com/x/y``) and WHO is a space-separated list
of user names, ``@group`` names, or ``*`` for any authenticated principal::

    corp.example.com/secret=alice @security; corp.example.com,git.corp/*=*

The first rule whose globs match decides (as GOVCS does). Matching ignores case: many origins
(GitHub, GitLab, git hosts on case-insensitive file systems) serve ``corp.example.com/Secret``
as the same repository as ``corp.example.com/secret``, so a rule for the one covers the
other, and a broader rule cannot be reached by changing a letter's case.

A module no rule matches is public, unless it matches GOPRIVATE: a private module nobody
granted is refused to everyone (fail closed). Public modules are readable by any
authenticated principal, and by anonymous callers when ``anonymous_public`` is on.

A refusal answers 404 to an anonymous caller, so the existence of a private module does not
leak (and the go command falls through to its next GOPROXY entry), 403 to an authenticated
one, and 401 to an anonymous caller asking for a public module while anonymous access is off.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from gomodproxy.errors import ConfigError
from gomodproxy.gomod.globs import match_prefix_patterns
from gomodproxy.security.auth import Principal


@dataclass(frozen=True)
class Rule:
    """One access rule: the globs it covers and who may read them."""

    globs: str
    users: frozenset[str]
    groups: frozenset[str]
    any_authenticated: bool = False

    def allows(self, principal: Principal) -> bool:
        return (
            self.any_authenticated
            or principal.name in self.users
            or not self.groups.isdisjoint(principal.groups)
        )


@dataclass(frozen=True)
class Decision:
    """The outcome: ``status`` 0 when allowed, else 401, 403 or 404 with a reason."""

    allowed: bool
    status: int
    reason: str
    rule: str = ""


ALLOW = Decision(True, 0, "")


def parse_rules(text: str) -> list[Rule]:
    """Parse the ``access_rules`` grammar.

    Raises:
        ConfigError: a rule without ``=``, without globs or principals. (A malformed glob
            never matches, as in the go command's ``module.MatchPrefixPatterns``.)
    """
    rules = []
    for raw in text.split(";"):
        spec = raw.strip()
        if not spec:
            continue
        globs, sep, who = spec.partition("=")
        globs = ",".join(g.strip() for g in globs.split(",") if g.strip())
        names = who.split()
        if not sep or not globs or not names:
            raise ConfigError(f"access rule {spec!r}: want GLOBS=WHO (user, @group or *)")
        users = frozenset(n for n in names if not n.startswith("@") and n != "*")
        groups = frozenset(n[1:] for n in names if n.startswith("@") and len(n) > 1)
        rules.append(Rule(globs, users, groups, "*" in names))
    return rules


class Policy:
    """Decides reads of module paths for principals."""

    def __init__(
        self, rules: list[Rule], *, goprivate: str = "", anonymous_public: bool = True
    ) -> None:
        self.rules = rules
        self.goprivate = goprivate
        self.anonymous_public = anonymous_public

    def rule_for(self, module_path: str) -> Rule | None:
        """The first rule covering ``module_path``."""
        return self._classify(module_path)[0]

    @functools.lru_cache(maxsize=16384)  # noqa: B019 - one policy per process, bounded
    def _classify(self, module_path: str) -> tuple[Rule | None, bool]:
        """(first matching rule, matches GOPRIVATE), memoised: glob matching is slow."""
        folded = module_path.lower()
        for rule in self.rules:
            if match_prefix_patterns(rule.globs, module_path) or match_prefix_patterns(
                rule.globs.lower(), folded
            ):
                return rule, True
        private = bool(self.goprivate) and (
            match_prefix_patterns(self.goprivate, module_path)
            or match_prefix_patterns(self.goprivate.lower(), folded)
        )
        return None, private

    def is_private(self, module_path: str) -> bool:
        """True when a rule or GOPRIVATE covers ``module_path``."""
        return self._classify(module_path)[1]

    def decide(self, principal: Principal | None, module_path: str) -> Decision:
        """May ``principal`` (None: anonymous) read anything of ``module_path``?"""
        rule, private = self._classify(module_path)
        if not private:
            return self.decide_public(principal)
        globs = rule.globs if rule is not None else self.goprivate
        if principal is None:
            return Decision(False, 404, f"not found: {module_path}", globs)
        if rule is not None and rule.allows(principal):
            return Decision(True, 0, "", globs)
        return Decision(
            False, 403, f"forbidden: {principal.name} may not read {module_path}", globs
        )

    def decide_public(self, principal: Principal | None) -> Decision:
        """May ``principal`` read public data (modules no rule covers, public sumdb)?"""
        if principal is not None or self.anonymous_public:
            return ALLOW
        return Decision(False, 401, "authentication required")

    def decide_every_rule(self, principal: Principal | None, what: str) -> Decision:
        """Data naming any private module (the private checksum database's data tiles):
        only for a principal every rule allows (one who may read every private module)."""
        if principal is None:
            return Decision(False, 404, f"not found: {what}")
        if all(rule.allows(principal) for rule in self.rules):
            return ALLOW
        return Decision(False, 403, f"forbidden: {principal.name} may not read {what}")

    def decide_authenticated(self, principal: Principal | None, what: str) -> Decision:
        """Data not tied to one module but only for known principals (private sumdb tiles)."""
        if principal is not None:
            return ALLOW
        return Decision(False, 404, f"not found: {what}")
