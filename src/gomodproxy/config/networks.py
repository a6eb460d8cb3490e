"""IP networks in settings (trusted proxies, networks direct mode may still reach)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from gomodproxy.errors import InvalidInput

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str | Iterable[str]) -> list[IPNetwork]:
    """``10.0.0.0/8, 127.0.0.1`` → networks.

    Raises:
        InvalidInput: an entry is not an address or network.
    """
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    out: list[IPNetwork] = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise InvalidInput(f"invalid network {item!r}: {exc}") from None
    return out


def in_networks(address: str, networks: Iterable[IPNetwork]) -> bool:
    """True when ``address`` (an IP literal) lies in one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)
