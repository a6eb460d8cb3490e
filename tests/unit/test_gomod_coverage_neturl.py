"""The net/url port (gomod._neturl) on recorded Go answers, without Go.

tests/vectors/neturl.json holds URLs picked from the generator of
tests/differential/test_goenv_url.py so that together they reach every branch of the port,
each with the answer of Go's url.Parse, String and Redacted (the oracle's goenv.url op);
tests/differential/test_gomod_vectors.py re-asks the oracle for every entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.neturl_fields import parsed

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "neturl.json").read_text()
)


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: repr(c["url"]))
def test_recorded(case: dict[str, Any]) -> None:
    """Fields, String, Redacted or the error text equal Go's recorded answer."""
    assert parsed(case["url"]) == case["want"]


def test_table_is_varied() -> None:
    """The table holds both accepted URLs and each family of errors."""
    errors = {
        c["want"].split(": ", 1)[1].split(" ")[0] for c in VECTORS if isinstance(c["want"], str)
    }
    assert {"invalid", "missing", "first", "net/url:"} <= errors
    assert sum(isinstance(c["want"], dict) for c in VECTORS) >= 10
