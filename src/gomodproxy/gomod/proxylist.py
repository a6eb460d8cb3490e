"""The GOPROXY list, as cmd/go/internal/modfetch/proxy.go ``proxyList`` parses it.

Entries are separated by ``,`` (fall through to the next entry only when this one says the
module does not exist: 404/410) or ``|`` (fall through on any error). Each entry is trimmed,
empty ones are skipped, ``off`` and ``direct`` end the list (later entries are ignored), and an
entry holding ``.``, ``:`` or ``/`` but no ``:/`` that is not an absolute path gets ``https://``
in front. Every URL must be what ``newProxyRepo`` accepts: scheme https, http or file, and a
file URL holds only a path. When GONOPROXY is set and GOPROXY is not exactly ``direct``, a
hidden ``noproxy`` entry comes first. Errors carry the go command's texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod._gostrings import go_trim_space
from gomodproxy.gomod._neturl import URL, URLError, parse_url

__all__ = [
    "DIRECT",
    "NOPROXY",
    "OFF",
    "ProxySpec",
    "check_proxy_url",
    "parse_goproxy",
    "split_goproxy",
]

DIRECT = "direct"
OFF = "off"
NOPROXY = "noproxy"

NO_ENTRIES = "GOPROXY list is not the empty string, but contains no entries"


@dataclass(frozen=True)
class ProxySpec:
    """One GOPROXY entry: a URL or one of ``off``, ``direct``, ``noproxy``."""

    url: str
    #: True after ``|``: try the next entry after any error, not only after 404/410.
    fallback_on_error: bool = False


def split_goproxy(goproxy: str) -> list[ProxySpec]:
    """Split GOPROXY into trimmed, non-empty entries, all of them, without checking any.

    Unlike :func:`parse_goproxy` it keeps what follows ``off`` or ``direct`` (the go command
    ignores those entries; a configuration checker wants to point at them) and adds no
    scheme.
    """
    out = []
    rest = goproxy
    while rest:
        cut = min((i for i in (rest.find(","), rest.find("|")) if i >= 0), default=-1)
        if cut >= 0:
            entry, fallback, rest = rest[:cut], rest[cut] == "|", rest[cut + 1 :]
        else:
            entry, fallback, rest = rest, False, ""
        entry = go_trim_space(entry)
        if entry:
            out.append(ProxySpec(entry, fallback))
    return out


def _with_scheme(entry: str) -> str:
    # Single words are reserved for built-in behaviour; anything with ":/" or an absolute
    # path must be a complete URL; everything else is a host name that means https.
    if any(c in entry for c in ".:/") and ":/" not in entry and not entry.startswith("/"):
        return "https://" + entry
    return entry


def check_proxy_url(url: str) -> URL:
    """Check one proxy URL as ``newProxyRepo`` does and return it parsed.

    Raises:
        InvalidInput: ``invalid proxy URL missing scheme: foo``, ``invalid proxy URL scheme
            (must be https, http, file): ...``, ``invalid file:// proxy URL with non-path
            elements: ...`` or net/url's ``parse "...": ...``. URLs in the texts are redacted.
    """
    try:
        base = parse_url(url)
    except URLError as e:
        raise InvalidInput(str(e)) from None
    if base.scheme in ("http", "https"):
        return base
    if base.scheme == "file":
        if base != URL(scheme="file", path=base.path, raw_path=base.raw_path):
            raise InvalidInput(
                "invalid file:// proxy URL with non-path elements: " + base.redacted()
            )
        return base
    if base.scheme == "":
        raise InvalidInput("invalid proxy URL missing scheme: " + base.redacted())
    raise InvalidInput("invalid proxy URL scheme (must be https, http, file): " + base.redacted())


def parse_goproxy(goproxy: str, gonoproxy: str = "") -> list[ProxySpec]:
    """Parse the effective GOPROXY (and GONOPROXY) into the list the go command walks.

    ``goproxy`` is the effective value: an empty one means the go command found no default
    (a Go install without ``$GOROOT/go.env``), which is an error.

    Raises:
        InvalidInput: the first bad entry's error (see :func:`check_proxy_url`), or
            ``GOPROXY list is not the empty string, but contains no entries``.
    """
    specs = []
    if gonoproxy != "" and goproxy != DIRECT:
        specs.append(ProxySpec(NOPROXY))
    for spec in split_goproxy(goproxy):
        if spec.url in (OFF, DIRECT):
            specs.append(ProxySpec(spec.url))
            break
        url = _with_scheme(spec.url)
        check_proxy_url(url)
        specs.append(ProxySpec(url, spec.fallback_on_error))
    if not specs or specs == [ProxySpec(NOPROXY)]:
        raise InvalidInput(NO_ENTRIES)
    return specs
