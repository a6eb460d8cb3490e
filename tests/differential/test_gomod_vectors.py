"""The recorded Go answers in tests/vectors/neturl.json, re-asked of the oracle, so the table
the Go-free core suite relies on cannot drift from Go."""

from __future__ import annotations

from tests.differential.oracle import ask
from tests.unit.test_gomod_coverage_neturl import VECTORS


def test_neturl_table_matches_go() -> None:
    """Every recorded url.Parse answer is what Go answers today."""
    answers = ask("goenv.url", [{"S": c["url"]} for c in VECTORS])
    stale = [
        (c["url"], c["want"], a.error if a.error is not None else a.result)
        for c, a in zip(VECTORS, answers, strict=True)
        if c["want"] != (a.error if a.error is not None else a.result)
    ]
    assert not stale, stale[:3]
