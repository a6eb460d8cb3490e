"""GOSUMDB, as cmd/go/internal/modfetch/sumdb.go ``dbDial`` reads it.

Forms: ``off``; a known name (only ``sum.golang.org``, whose key is built in); the alias
``sum.golang.google.cn`` (key of sum.golang.org, served from https://sum.golang.google.cn);
a verifier key ``name+hash+base64key``; and either of the last two followed by whitespace and
the URL to reach the database at, which bypasses GOPROXY. The key is checked as
golang.org/x/mod/sumdb/note ``NewVerifier`` does (id, hash, algorithm), without building an
Ed25519 verifier: that belongs to ``gomodproxy.sumdb``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod._gostrings import go_fields, go_is_space
from gomodproxy.gomod._neturl import URL, URLError, parse_url

__all__ = ["KNOWN_GOSUMDB", "SumDB", "check_verifier_key", "parse_gosumdb"]

#: The checksum databases whose keys the go command knows by name (modfetch/key.go).
KNOWN_GOSUMDB = {
    "sum.golang.org": "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
}
_ALIASES = {"sum.golang.google.cn": "sum.golang.org https://sum.golang.google.cn"}
_ALG_ED25519 = 1
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@dataclass(frozen=True)
class SumDB:
    """A usable GOSUMDB setting."""

    name: str
    #: The verifier key, ``name+hash+base64key``.
    key: str
    #: The URL given after the key, as written; None when the database is reached through the
    #: proxies' ``/sumdb/<name>/supported`` probe and then at :attr:`direct_url`.
    url: str | None
    #: ``https://<name>``.
    direct_url: str


def _is_valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return name != "" and not any(go_is_space(c) for c in name) and "+" not in name


def check_verifier_key(vkey: str) -> str:
    """Check a note verifier key as ``note.NewVerifier`` does; return its name.

    Raises:
        InvalidInput: ``malformed verifier id``, ``invalid verifier hash`` or ``unknown
            verifier algorithm``.
    """
    name, _, rest = vkey.partition("+")
    hash16, _, key64 = rest.partition("+")
    key = b""
    # Go's StdEncoding wants whole quanta and '=' only as padding; Python also takes
    # excess padding, so the shape is checked first.
    if _BASE64.fullmatch(key64) and len(key64) % 4 == 0:
        key = base64.b64decode(key64, validate=True)
    hex_ok = len(hash16) == 8 and all(c in "0123456789abcdefABCDEF" for c in hash16)
    if not hex_ok or not _is_valid_name(name) or not key:
        raise InvalidInput("malformed verifier id")
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()
    if int(hash16, 16) != int.from_bytes(digest[:4], "big"):
        raise InvalidInput("invalid verifier hash")
    if key[0] != _ALG_ED25519:
        raise InvalidInput("unknown verifier algorithm")
    if len(key) != 33:
        raise InvalidInput("malformed verifier id")
    return name


def _go_struct(u: URL) -> str:
    # fmt's %+v of a url.URL, as the go command prints it in a bad-name error. A non-nil
    # *Userinfo prints as a pointer address, which cannot be reproduced; a fixed one stands in.
    user = "<nil>" if u.user is None else "0xc000000000"
    return (
        f"{{Scheme:{u.scheme} Opaque:{u.opaque} User:{user} Host:{u.host} Path:{u.path} "
        f"Fragment:{u.fragment} RawQuery:{u.raw_query} RawPath:{u.raw_path} "
        f"RawFragment:{u.raw_fragment} ForceQuery:{str(u.force_query).lower()} "
        f"OmitHost:{str(u.omit_host).lower()}}}"
    )


def parse_gosumdb(gosumdb: str) -> SumDB | None:
    """Parse the effective GOSUMDB; None means ``off``.

    An empty value is what a Go install without ``$GOROOT/go.env`` ends up with.

    Raises:
        InvalidInput: ``missing GOSUMDB``, ``invalid GOSUMDB: too many fields``,
            ``invalid GOSUMDB: <verifier error>``, ``invalid sumdb name (must be
            host[/path]): ...`` or ``invalid GOSUMDB URL: parse ...``.
    """
    gosumdb = _ALIASES.get(gosumdb, gosumdb)
    if gosumdb == "off":
        return None
    fields = go_fields(gosumdb)
    if not fields:
        raise InvalidInput("missing GOSUMDB")
    fields[0] = KNOWN_GOSUMDB.get(fields[0], fields[0])
    if len(fields) > 2:
        raise InvalidInput("invalid GOSUMDB: too many fields")
    try:
        name = check_verifier_key(fields[0])
    except InvalidInput as e:
        raise InvalidInput(f"invalid GOSUMDB: {e}") from None
    try:
        direct = parse_url("https://" + name)
    except URLError:
        # The go command dereferences a nil URL here and crashes; say what is wrong instead.
        raise InvalidInput(f"invalid sumdb name (must be host[/path]): {name}") from None
    plain = URL(scheme="https", host=direct.host, path=direct.path, raw_path=direct.raw_path)
    if name.endswith("/") or direct != plain or direct.raw_path or not direct.host:
        raise InvalidInput(f"invalid sumdb name (must be host[/path]): {name} {_go_struct(direct)}")
    url = None
    if len(fields) == 2:
        try:
            parse_url(fields[1])
        except URLError as e:
            raise InvalidInput(f"invalid GOSUMDB URL: {e}") from None
        url = fields[1]
    return SumDB(name=name, key=fields[0], url=url, direct_url="https://" + name)
