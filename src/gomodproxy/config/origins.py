"""Operator-configured repositories of direct mode (``--origin PREFIX=git+URL``,
``[[origins]]``): parsed with the settings, so a bad entry stops start-up with its reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gomodproxy.errors import ConfigError

#: The version control systems direct mode can read.
SUPPORTED_VCS = frozenset({"git"})


@dataclass(frozen=True)
class OriginOverride:
    """An operator-configured repository for every module under ``prefix``."""

    prefix: str
    vcs: str
    url: str


def parse_origin(spec: str) -> OriginOverride:
    """Parse ``PREFIX=VCS+URL`` (``golang.org/x/mod=git+file:///srv/git/mod.git``).

    Raises:
        ConfigError: the spec is malformed or names a VCS other than git.
    """
    prefix, eq, rest = spec.partition("=")
    prefix = prefix.strip().strip("/")
    if not eq or not prefix or "+" not in rest:
        raise ConfigError(f"invalid origin {spec!r}: want PREFIX=git+URL")
    vcs, _, url = rest.strip().partition("+")
    return _origin(prefix, vcs, url, spec)


def parse_origins_config(entries: Iterable[Mapping[str, object]]) -> list[OriginOverride]:
    """Parse ``[[origins]]`` tables with keys ``prefix``, ``vcs`` (default git) and ``url``.

    Raises:
        ConfigError: a key is missing or has the wrong type, or the VCS is not git.
    """
    out = []
    for i, entry in enumerate(entries):
        prefix, vcs, url = entry.get("prefix"), entry.get("vcs", "git"), entry.get("url")
        if not isinstance(prefix, str) or not isinstance(vcs, str) or not isinstance(url, str):
            raise ConfigError(f"origins[{i}]: want string keys prefix, url and optional vcs")
        out.append(_origin(prefix.strip().strip("/"), vcs, url, f"origins[{i}]"))
    return out


def _origin(prefix: str, vcs: str, url: str, what: str) -> OriginOverride:
    if not prefix or not url:
        raise ConfigError(f"invalid origin {what!r}: empty prefix or URL")
    if vcs not in SUPPORTED_VCS:
        raise ConfigError(f"invalid origin {what!r}: {vcs!r} is not supported (only git)")
    if "://" not in url:
        raise ConfigError(f"invalid origin {what!r}: URL {url!r} has no scheme")
    return OriginOverride(prefix, vcs, url)
