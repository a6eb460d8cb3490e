"""Authorization: rules of GOPRIVATE globs → principals, and the 404/403/401 decisions."""

from __future__ import annotations

import pytest

from gomodproxy.errors import ConfigError
from gomodproxy.security.auth import Principal
from gomodproxy.security.authz import Policy, parse_rules

ALICE = Principal("alice", frozenset())
BOB = Principal("bob", frozenset({"dev"}))
EVE = Principal("eve", frozenset({"interns"}))
RULES = "corp.example.com/secret=alice; corp.example.com,git.corp/*=@dev; shared.corp=*"


@pytest.fixture
def policy() -> Policy:
    return Policy(parse_rules(RULES), goprivate="corp.example.com,unruled.corp")


@pytest.mark.parametrize(
    ("principal", "module", "status"),
    [
        (ALICE, "corp.example.com/secret", 0),
        (ALICE, "corp.example.com/secret/v2", 0),  # prefix glob covers sub-paths
        (BOB, "corp.example.com/secret", 403),  # first matching rule decides
        (BOB, "corp.example.com/team", 0),
        (ALICE, "corp.example.com/team", 403),
        (BOB, "git.corp/x/y", 0),
        (EVE, "shared.corp/lib", 0),  # * = any authenticated principal
        (None, "shared.corp/lib", 404),
        (None, "corp.example.com/secret", 404),  # anonymous: no existence leak
        (BOB, "unruled.corp/x", 403),  # GOPRIVATE without a rule: closed to everyone
        (None, "unruled.corp/x", 404),
        (None, "example.org/public", 0),
        (EVE, "example.org/public", 0),
    ],
)
def test_decisions(policy: Policy, principal: Principal | None, module: str, status: int) -> None:
    """Allowed is status 0; anonymous refusals are 404, authenticated ones 403."""
    decision = policy.decide(principal, module)
    assert decision.status == status
    assert decision.allowed == (status == 0)


def test_anonymous_public_off() -> None:
    """Without anonymous access public modules need credentials (401)."""
    policy = Policy(parse_rules(RULES), anonymous_public=False)
    assert policy.decide(None, "example.org/public").status == 401
    assert policy.decide(EVE, "example.org/public").allowed
    assert policy.decide(None, "corp.example.com/secret").status == 404


def test_reason_names_principal_and_module(policy: Policy) -> None:
    """A 403 says who may not read what; a 404 says only not found."""
    assert policy.decide(BOB, "corp.example.com/secret").reason == (
        "forbidden: bob may not read corp.example.com/secret"
    )
    assert policy.decide(None, "corp.example.com/secret").reason == (
        "not found: corp.example.com/secret"
    )


@pytest.mark.parametrize("text", ["corp.example.com", "=alice", "corp=", " , =alice"])
def test_bad_rules(text: str) -> None:
    """Rules without globs or principals are configuration errors."""
    with pytest.raises(ConfigError):
        parse_rules(text)


def test_rule_parts() -> None:
    """Users, @groups and * are told apart; empty rules between ; are ignored."""
    rules = parse_rules(" a.com/x = alice @dev ;; b.com=* ")
    assert [(r.globs, r.users, r.groups, r.any_authenticated) for r in rules] == [
        ("a.com/x", {"alice"}, {"dev"}, False),
        ("b.com", frozenset(), frozenset(), True),
    ]
