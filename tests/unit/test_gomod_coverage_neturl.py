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

from gomodproxy.gomod import _neturl

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "neturl.json").read_text()
)


def as_json(v: Any) -> Any:
    """What Go's encoding/json makes of a value: invalid UTF-8 bytes become U+FFFD."""
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(v, list):
        return [as_json(x) for x in v]
    return v


def parsed(s: str) -> dict[str, Any] | str:
    """parse_url's fields, String and Redacted in the oracle's shape, or the error text."""
    try:
        u = _neturl.parse_url(s)
    except _neturl.URLError as e:
        return str(e)
    fields = {
        "scheme": u.scheme,
        "opaque": u.opaque,
        "user": None if u.user is None else list(u.user),
        "host": u.host,
        "path": u.path,
        "raw_path": u.raw_path,
        "force_query": u.force_query,
        "raw_query": u.raw_query,
        "fragment": u.fragment,
        "raw_fragment": u.raw_fragment,
        "omit_host": u.omit_host,
        "string": u.string(),
        "redacted": u.redacted(),
    }
    return {k: as_json(v) for k, v in fields.items()}


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
