"""Go's ``net/url.Parse`` and ``URL.String``/``Redacted``, as of Go 1.26.

The go command validates GOPROXY entries and GOSUMDB names with ``net/url`` and prints its
error values verbatim (``parse "x": invalid port ":y" after host``), so reproducing those
texts needs this port rather than :mod:`urllib.parse`, which accepts and rejects other things.

Go strings are bytes; here a Go string is a Python ``str`` whose non-UTF-8 bytes are lone
surrogates (``surrogateescape``, as :data:`os.environ` gives them). Only what the go command
uses is ported: ``Parse`` (not ``ParseRequestURI``), with the Go 1.26 default
``urlstrictcolons=1`` (http and https hosts may hold one colon).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gomodproxy.gomod._gostr import quote as go_quote

__all__ = ["URL", "URLError", "parse_url"]

# net/url's encoding modes, less the two (path segment, query component) nothing here uses.
_PATH, _HOST, _ZONE, _USER_PASSWORD, _FRAGMENT = range(5)
_HEX = "0123456789abcdefABCDEF"
_UPPERHEX = "0123456789ABCDEF"


class URLError(ValueError):
    """A ``net/url`` parse error; ``str()`` is Go's ``err.Error()``."""


def _to_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _should_escape(c: int, mode: int) -> bool:
    """net/url's shouldEscape for one byte."""
    ch = chr(c)
    if ch.isascii() and ch.isalnum():
        return False
    if mode in (_HOST, _ZONE) and ch in "!$&'()*+,;=:[]<>\"":
        return False
    if ch in "-_.~":
        return False
    if ch in "$&+,/:;=?@":
        if mode == _PATH:
            return ch == "?"
        if mode == _USER_PASSWORD:
            return ch in "@/?:"
        if mode == _FRAGMENT:
            return False
    return not (mode == _FRAGMENT and ch in "!()*")


def _unhex(c: str) -> int:
    return int(c, 16)


def _unescape(s: str, mode: int) -> str:
    """net/url's unescape (modes path, host, zone, user/password, fragment)."""
    b = _to_bytes(s)
    n = 0
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x25:  # '%'
            n += 1
            if i + 2 >= len(b) or chr(b[i + 1]) not in _HEX or chr(b[i + 2]) not in _HEX:
                raise URLError("invalid URL escape " + go_quote(_from_bytes(b[i : i + 3])))
            esc = b[i : i + 3]
            if mode == _HOST and _unhex(chr(b[i + 1])) < 8 and esc != b"%25":
                raise URLError("invalid URL escape " + go_quote(_from_bytes(esc)))
            if mode == _ZONE:
                v = int(esc[1:], 16)
                if esc != b"%25" and v != 0x20 and _should_escape(v, _HOST):
                    raise URLError("invalid URL escape " + go_quote(_from_bytes(esc)))
            i += 3
        else:
            if mode in (_HOST, _ZONE) and c < 0x80 and _should_escape(c, mode):
                raise URLError("invalid character " + go_quote(chr(c)) + " in host name")
            i += 1
    if n == 0:
        return s
    out = bytearray()
    i = 0
    while i < len(b):
        if b[i] == 0x25:
            out.append(int(b[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return _from_bytes(bytes(out))


def _escape(s: str, mode: int) -> str:
    out = []
    for c in _to_bytes(s):
        if _should_escape(c, mode):
            out.append("%" + _UPPERHEX[c >> 4] + _UPPERHEX[c & 15])
        else:
            out.append(chr(c))
    return "".join(out)


@dataclass(frozen=True)
class URL:
    """The fields of Go's ``url.URL`` that Parse can set; ``user`` is (name, password|None)."""

    scheme: str = ""
    opaque: str = ""
    user: tuple[str, str | None] | None = None
    host: str = ""
    path: str = ""
    raw_path: str = ""
    force_query: bool = False
    raw_query: str = ""
    fragment: str = ""
    raw_fragment: str = ""
    omit_host: bool = False

    # The URLs here come from parse_url, so a raw path or fragment is always a valid escaping
    # of the decoded one; Go's EscapedPath/EscapedFragment re-check that for mutated URLs.

    def escaped_path(self) -> str:
        """Go's ``URL.EscapedPath``."""
        if self.raw_path and _valid_encoded(self.raw_path, _PATH):
            return self.raw_path
        if self.path == "*":
            return "*"
        return _escape(self.path, _PATH)

    def escaped_fragment(self) -> str:
        """Go's ``URL.EscapedFragment``."""
        if self.raw_fragment and _valid_encoded(self.raw_fragment, _FRAGMENT):
            return self.raw_fragment
        return _escape(self.fragment, _FRAGMENT)

    def string(self, *, redact: bool = False) -> str:
        """Go's ``URL.String`` (``Redacted`` with ``redact=True``)."""
        buf = []
        if self.scheme:
            buf.append(self.scheme + ":")
        if self.opaque:
            buf.append(self.opaque)
        else:
            if (self.scheme or self.host or self.user is not None) and not (
                self.omit_host and not self.host and self.user is None
            ):
                if self.host or self.path or self.user is not None:
                    buf.append("//")
                if self.user is not None:
                    name, password = self.user
                    ui = _escape(name, _USER_PASSWORD)
                    if password is not None:
                        ui += ":" + ("xxxxx" if redact else _escape(password, _USER_PASSWORD))
                    buf.append(ui + "@")
                if self.host:
                    buf.append(_escape(self.host, _HOST))
            # (Go also inserts "/" between a host and a relative path; parsing never makes one.)
            path = self.escaped_path()
            if not buf and ":" in path.partition("/")[0]:
                buf.append("./")
            buf.append(path)
        if self.force_query or self.raw_query:
            buf.append("?" + self.raw_query)
        if self.fragment:
            buf.append("#" + self.escaped_fragment())
        return "".join(buf)

    def redacted(self) -> str:
        """Go's ``URL.Redacted``: String with any password replaced by ``xxxxx``."""
        return self.string(redact=True)


def _valid_encoded(s: str, mode: int) -> bool:
    for c in _to_bytes(s):
        if chr(c) in "!$&'()*+,;=:@[]%":
            continue
        if _should_escape(c, mode):
            return False
    return True


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise URLError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= c <= "9" for c in port[1:])


def _parse_host(scheme: str, host: str) -> str:
    open_idx = host.rfind("[")
    if open_idx > 0:
        raise URLError("invalid IP-literal")
    if open_idx == 0:
        close_idx = host.rfind("]")
        if close_idx < 0:
            raise URLError("missing ']' in host")
        colon_port = host[close_idx + 1 :]
        if not _valid_optional_port(colon_port):
            raise URLError(f"invalid port {go_quote(colon_port)} after host")
        unescaped_port = _unescape(colon_port, _HOST)
        hostname = host[1:close_idx]
        zone = hostname.find("%25")
        if zone >= 0:
            unescaped = _unescape(hostname[:zone], _HOST) + _unescape(hostname[zone:], _ZONE)
        else:
            unescaped = _unescape(hostname, _HOST)
        is4 = _parse_addr(unescaped)
        if is4:
            raise URLError("invalid IP-literal")
        return "[" + unescaped + "]" + unescaped_port
    i = host.find(":")
    if i != -1:
        last = host.rfind(":")
        if last != i and scheme not in ("http", "https"):
            i = last
        colon_port = host[i:]
        if not _valid_optional_port(colon_port):
            raise URLError(f"invalid port {go_quote(colon_port)} after host")
    return _unescape(host, _HOST)


def _valid_userinfo(s: str) -> bool:
    return all((c.isascii() and c.isalnum()) or c in "-._:~!$&'()*+,;=%@" for c in s)


def _parse_authority(scheme: str, authority: str) -> tuple[tuple[str, str | None] | None, str]:
    i = authority.rfind("@")
    host = _parse_host(scheme, authority[i + 1 :] if i >= 0 else authority)
    if i < 0:
        return None, host
    userinfo = authority[:i]
    if not _valid_userinfo(userinfo):
        raise URLError("net/url: invalid userinfo")
    if ":" not in userinfo:
        return (_unescape(userinfo, _USER_PASSWORD), None), host
    name, _, password = userinfo.partition(":")
    return (_unescape(name, _USER_PASSWORD), _unescape(password, _USER_PASSWORD)), host


def _parse(raw: str) -> URL:
    if any(c < " " or c == "\x7f" for c in raw):
        raise URLError("net/url: invalid control character in URL")
    if raw == "*":
        return URL(path="*")
    scheme, rest = _get_scheme(raw)
    scheme = scheme.lower()
    force_query = False
    raw_query = ""
    if rest.endswith("?") and rest.count("?") == 1:
        force_query = True
        rest = rest[:-1]
    else:
        rest, _, raw_query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return URL(scheme=scheme, opaque=rest, force_query=force_query, raw_query=raw_query)
        if ":" in rest.partition("/")[0]:
            raise URLError("first path segment in URL cannot contain colon")
    user: tuple[str, str | None] | None = None
    host = ""
    omit_host = False
    if (scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        user, host = _parse_authority(scheme, authority)
    elif scheme and rest.startswith("/"):
        omit_host = True
    path = _unescape(rest, _PATH)
    raw_path = "" if _escape(path, _PATH) == rest else rest
    return URL(
        scheme=scheme,
        user=user,
        host=host,
        path=path,
        raw_path=raw_path,
        force_query=force_query,
        raw_query=raw_query,
        omit_host=omit_host,
    )


def parse_url(raw: str) -> URL:
    """Go's ``url.Parse``.

    Raises:
        URLError: with Go's text, e.g. ``parse "http://a b": invalid character " " in host name``.
    """
    u, hash_, frag = raw.partition("#")
    try:
        url = _parse(u)
    except URLError as e:
        raise URLError(f"parse {go_quote(u)}: {e}") from None
    if not hash_ or frag == "":
        return url
    try:
        fragment = _unescape(frag, _FRAGMENT)
    except URLError as e:
        raise URLError(f"parse {go_quote(raw)}: {e}") from None
    raw_fragment = "" if _escape(fragment, _FRAGMENT) == frag else frag
    return replace(url, fragment=fragment, raw_fragment=raw_fragment)


# --- net/netip.ParseAddr, for bracketed hosts ----------------------------------------------


def _addr_error(inp: str, msg: str, at: str = "") -> URLError:
    text = f"ParseAddr({go_quote(inp)}): {msg}"
    if at:
        text += f" (at {go_quote(at)})"
    return URLError("invalid host: " + text)


def _parse_ipv4_fields(inp: str, s: str) -> None:
    val = pos = dig_len = 0
    for i, c in enumerate(s):
        if "0" <= c <= "9":
            if dig_len == 1 and val == 0:
                raise _addr_error(inp, "IPv4 field has octet with leading zero")
            val = val * 10 + int(c)
            dig_len += 1
            if val > 255:
                raise _addr_error(inp, "IPv4 field has value >255")
        elif c == ".":
            if i == 0 or i == len(s) - 1 or s[i - 1] == ".":
                raise _addr_error(inp, "IPv4 field must have at least one digit", s[i:])
            if pos == 3:
                raise _addr_error(inp, "IPv4 address too long")
            pos += 1
            val = dig_len = 0
        else:
            raise _addr_error(inp, "unexpected character", s[i:])
    if pos < 3:
        raise _addr_error(inp, "IPv4 address too short")


def _parse_addr(s: str) -> bool:
    """netip.ParseAddr's validation and messages; True when the address is IPv4."""
    for c in s:
        if c == ".":
            _parse_ipv4_fields(s, s)
            return True
        if c == ":":
            _parse_ipv6(s)
            return False
        if c == "%":
            raise _addr_error(s, "missing IPv6 address")
    raise _addr_error(s, "unable to parse IP")


def _parse_ipv6(inp: str) -> None:
    s = inp
    zone = ""
    if "%" in s:
        s, _, zone = s.partition("%")
        if zone == "":
            raise _addr_error(inp, "zone must be a non-empty string")
    ellipsis = -1
    if s.startswith("::"):
        ellipsis = 0
        s = s[2:]
        if s == "":
            return
    i = 0
    while i < 16:
        off = 0
        acc = 0
        while off < len(s) and s[off] in _HEX:
            acc = (acc << 4) + int(s[off], 16)
            if off > 3:
                # (Four hex digits cannot pass 0xFFFF, so Go's ">=2^16" error never fires.)
                raise _addr_error(inp, "each group must have 4 or less digits", s)
            off += 1
        if off == 0:
            raise _addr_error(inp, "each colon-separated field must have at least one digit", s)
        if off < len(s) and s[off] == ".":
            if ellipsis < 0 and i != 12:
                raise _addr_error(
                    inp, "embedded IPv4 address must replace the final 2 fields of the address", s
                )
            if i + 4 > 16:
                raise _addr_error(
                    inp,
                    "too many hex fields to fit an embedded IPv4 at the end of the address",
                    s,
                )
            end = len(inp) - (len(zone) + 1 if zone else 0)
            _parse_ipv4_fields(inp, inp[end - len(s) : end])
            s = ""
            i += 4
            break
        i += 2
        s = s[off:]
        if s == "":
            break
        if s[0] != ":":
            raise _addr_error(inp, "unexpected character, want colon", s)
        if len(s) == 1:
            raise _addr_error(inp, "colon must be followed by more characters", s)
        s = s[1:]
        if s[0] == ":":
            if ellipsis >= 0:
                raise _addr_error(inp, "multiple :: in address", s)
            ellipsis = i
            s = s[1:]
            if s == "":
                break
    if s:
        raise _addr_error(inp, "trailing garbage after address", s)
    if i < 16:
        if ellipsis < 0:
            raise _addr_error(inp, "address string too short")
    elif ellipsis >= 0:
        raise _addr_error(inp, "the :: must expand to at least one field of zeros")
