"""Which addresses direct mode may contact: no loopback, link-local or private ranges.

A module path is chosen by whoever asks the proxy, and its go-get page, its redirects and its
repository URL by whoever controls that domain. Without a guard, asking for
``evil.example/x`` could make the proxy fetch ``http://169.254.169.254/`` (cloud metadata),
an admin page on ``127.0.0.1`` or a host of the internal network, and show the answer in an
error message. So every go-get request, every redirect hop and every git remote is checked
against this policy before a connection is opened; the operator lists the networks direct
mode may still reach (``direct_allow_networks``, e.g. an internal git server), and tests
allow loopback explicitly.

A host name is resolved and refused if ANY of its addresses is forbidden (so a name cannot
pick a friendly address for the check and a forbidden one for the connection). For git over
http(s) the checked address is pinned with ``http.curloptResolve``, so git cannot resolve it
differently; git redirects are turned off (``http.followRedirects=false``) since they cannot
be checked hop by hop. When an HTTP proxy from the environment carries the request, the
proxy resolves names, so only literal addresses are checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlsplit

from gomodproxy.config.networks import IPNetwork, parse_networks
from gomodproxy.errors import UpstreamError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Ranges refused besides what ``ipaddress`` calls private, loopback, link-local, ...
_EXTRA_FORBIDDEN = parse_networks(
    "100.64.0.0/10 192.0.0.0/24 198.18.0.0/15 64:ff9b::/96 64:ff9b:1::/48 2002::/16"
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "git": 9418, "ssh": 22, "git+ssh": 22}


class AddressRefused(UpstreamError):
    """The guard refused to contact an address (a 404 to clients: nothing was fetched)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, source="netguard")


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries and may be translated or tunnelled to:
    IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64 (the well-known
    ``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48``, at the /96 and the /48 positions
    of RFC 6052), 6to4 (``2002:AABB:CCDD::``), Teredo (the client address) and ISATAP
    (``...:0:5efe:a.b.c.d``)."""
    n = int(ip)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _COMPATIBLE and n > 1:
        found.append(ipaddress.IPv4Address(n & 0xFFFFFFFF))
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        found.append(ipaddress.IPv4Address(n & 0xFFFFFFFF))
    if ip in _NAT64_LOCAL:  # /48 layout: 16 bits, the u octet, 16 bits
        found.append(ipaddress.IPv4Address(((n >> 64) & 0xFFFF) << 16 | (n >> 40) & 0xFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.append(ip.teredo[1])
    if (n >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface identifier
        found.append(ipaddress.IPv4Address(n & 0xFFFFFFFF))
    return found


def forbidden_reasons(ip: IPAddress) -> list[str]:
    """Every reason ``ip`` is forbidden by default (none for a public address). An IPv6
    address carrying IPv4 addresses (``embedded_ipv4``) is judged by them too, so
    ``64:ff9b::a9fe:a9fe`` is as link-local as ``169.254.169.254``."""
    reasons = []
    if isinstance(ip, ipaddress.IPv6Address):
        for v4 in embedded_ipv4(ip):
            reasons += forbidden_reasons(v4)
    if ip.is_loopback:
        reasons.append("loopback")
    elif ip.is_link_local:
        reasons.append("link-local")
    elif ip.is_multicast:
        reasons.append("multicast")
    elif ip.is_unspecified:
        reasons.append("unspecified")
    elif ip.is_private:
        reasons.append("private")
    elif ip.is_reserved:
        reasons.append("reserved")
    elif any(ip.version == net.version and ip in net for net in _EXTRA_FORBIDDEN):
        reasons.append("special-purpose")
    return reasons


def forbidden_reason(ip: IPAddress) -> str:
    """Why ``ip`` is forbidden by default ("" when it is a public address)."""
    reasons = forbidden_reasons(ip)
    return reasons[0] if reasons else ""


def _proxied(scheme: str, host: str) -> bool:
    """True when the environment's HTTP proxy settings send this request through a proxy."""
    proxies = urllib.request.getproxies_environment()
    if scheme not in proxies and "all" not in proxies:
        return False
    # An undocumented helper of urllib.request (no_proxy matching), so it may be missing.
    bypass = getattr(urllib.request, "proxy_bypass_environment", None)
    return bypass is None or not bypass(host, proxies)


class NetGuard:
    """The address policy of direct mode."""

    def __init__(
        self, allow: Iterable[IPNetwork] | str = (), *, only: frozenset[str] | None = None
    ) -> None:
        self.allow = parse_networks(allow) if isinstance(allow, str) else list(allow)
        #: Enforce only these reasons (e.g. ``{"link-local"}`` for redirects of configured
        #: upstreams, which may well live on private networks); None: all of them.
        self.only = only

    def check_ip(self, ip: IPAddress | str, what: str) -> None:
        """Raise AddressRefused unless ``ip`` is public or allow-listed."""
        addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        reasons = [r for r in forbidden_reasons(addr) if self.only is None or r in self.only]
        if not reasons:
            return
        reason = reasons[0]
        embedded = embedded_ipv4(addr) if isinstance(addr, ipaddress.IPv6Address) else []
        for candidate in (addr, *embedded):
            if any(candidate.version == n.version and candidate in n for n in self.allow):
                return
        raise AddressRefused(
            f"{what}: refusing to contact {addr} ({reason} address; "
            "allow it with direct_allow_networks)"
        )

    async def check_host(self, host: str, port: int, what: str, *, proxied: bool = False) -> str:
        """Check ``host`` (a name or literal); return the address to connect to ("" if unknown).

        Raises:
            AddressRefused: the host is, or resolves to, a forbidden address.
        """
        host = host.strip("[]")
        try:
            literal = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            literal = None
        if literal is not None:
            self.check_ip(literal, what)
            return str(literal)
        if proxied:
            return ""
        if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
            self.check_ip("127.0.0.1", what)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return ""  # cannot resolve: the connection will fail by itself, nothing is sent
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            self.check_ip(address.split("%", 1)[0], what)
        return addresses[0] if addresses else ""

    async def check_url(self, url: str, what: str) -> str:
        """Check the host of ``url`` (http, https, git, ssh, scp-like); return its address.

        ``file://`` URLs and local paths (operator-configured origins) are not network
        addresses and pass.
        """
        scheme, host, port = split_remote(url)
        if not host:
            return ""
        return await self.check_host(
            host,
            port,
            f"{what} {url}",
            proxied=scheme in ("http", "https") and _proxied(scheme, host),
        )

    async def git_options(self, url: str, what: str = "git") -> list[str]:
        """``-c`` options for a git command contacting ``url``, after checking it.

        Raises:
            AddressRefused: the remote is forbidden.
        """
        address = await self.check_url(url, what)
        options = ["-c", "http.followRedirects=false"]
        scheme, host, port = split_remote(url)
        if address and address != host and scheme in ("http", "https") and ":" not in address:
            options += ["-c", f"http.curloptResolve={host}:{port}:{address}"]
        return options


def split_remote(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a git or http URL; host "" for local paths and file URLs."""
    if "://" not in url:
        # scp-like syntax: [user@]host:path (a colon before any slash); host may be [v6]
        user_host = url.rpartition("@")[2] if "@" in url.partition(":")[0] else url
        if user_host.startswith("[") and "]:" in user_host:
            return "ssh", user_host[1 : user_host.index("]:")], 22
        head, colon, _ = url.partition(":")
        if colon and "/" not in head and head:
            return "ssh", head.rpartition("@")[2], 22
        return "file", "", 0
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file" or not parts.hostname:
        return scheme, "", 0
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 443)
    except ValueError:
        port = _DEFAULT_PORTS.get(scheme, 443)
    return scheme, parts.hostname, port
