"""parse_url's result in the shape the Go oracle reports it (shared by the core unit test of
gomod/_neturl.py and its differential test)."""

from __future__ import annotations

from typing import Any

from gomodproxy.gomod import _neturl


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
