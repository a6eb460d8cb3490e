"""The net/url port under GOPROXY/GOSUMDB parsing against Go's own net/url (the oracle), and
GOSUMDB verifier keys against golang.org/x/mod/sumdb/note, on generated strings."""

from __future__ import annotations

import base64
import hashlib
import random

from gomodproxy.errors import InvalidInput
from gomodproxy.gomod.sumdbenv import check_verifier_key
from tests.differential.oracle import SCALE, ask
from tests.neturl_fields import parsed as ours

N = 2500 * SCALE

_SCHEMES = ["https", "http", "file", "HTTPS", "ftp", "", "1x", "a+b", "s3"]
_HOSTS = [
    "p.example",
    "127.0.0.1",
    "[::1]",
    "[fe80::1%25en0]",
    "[::ffff:1.2.3.4]",
    "[1.2.3.4]",
    "[fe80::zz]",
    "[::1",
    "a b",
    "h%41",
    "h%zz",
    "é.example",
    "",
    "x:y:z",
    "<h>",
    "[::1]x",
    "h_1",
    "a[b",
    "[fe80::1%25]",
    "[fe80::1%25%00]",
    "[fe80::1%25a%2fb]",
    "[fe80::1%25a%20b]",
    "[fe80::1%en0]",
    "[%41::1]",
    "[::1]%3a80",
    "[::1]:8%30",
    "h%c3%a9",
    "%00h",
    "h%25",
    "[1::2::3]",
    "[12345::1]",
    "[1:2:3:4:5:6:7:8:9]",
    "[1:2:3:4:5:6:1.2.3.4]",
    "[::1.2.3.4]",
    "[1::1.2.3]",
    "[1::01.2.3.4]",
    "[1::256.2.3.4]",
    "[1::1.2.3.4.5]",
    "[1::1..3.4]",
    "[1::1.2.3.x]",
    "[1:2:3:4:5:6:7:1.2.3.4]",
    "[1:2]",
    "[1:]",
    "[1::2:]",
    "[1:2:3:4:5:6:7:8::]",
    "[1:2:3:4:5:6:7::8]",
    "[1:2:3:4:5:6:7:8]",
    "[:1]",
    "[::]",
    "[%25x]",
    "[x]",
    "[1x::]",
    "[fffff::]",
    "[::ffff:1.2.3.4%25z]",
    "[::1:2:3:4:5:6:7:1.2.3.4]",
]
_PORTS = ["", ":", ":80", ":8080", ":x", ":80:81", ":-1"]
_USERS = ["", "u@", "u:p@", "u:@", ":p@", "u%20x:p%zz@", "a b@", "u:p@q@", "%@"]
_PATHS = [
    "",
    "/",
    "/a/b",
    "/a%2fb",
    "/a b",
    "/%zz",
    "/é",
    "/a?b",
    "/a#f",
    "/a?",
    "//x",
    "/~u/",
    "/%3f",
]
_TAILS = ["", "?", "?q=1", "#", "#f", "#f%20g", "#%zz", "?x#y", "\x01", "\x7f", "#a b", "#%41"]
_RELATIVE = [
    "*",
    "a%3Ab c",
    "a%3Ab",
    "a:b",
    "/a:b",
    "./a:b",
    "%zz",
    "a b",
    "mailto:x",
    "?",
    "#x",
    "https://",
    "file://",
    "https:",
]
_CHARS = "ab:/@[]%?#. 0\t-_~+é"


def gen_url(r: random.Random) -> str:
    """A URL-like string: mostly structured, sometimes random characters."""
    if r.random() < 0.2:
        return "".join(r.choice(_CHARS) for _ in range(r.randrange(0, 14)))
    if r.random() < 0.05:
        return r.choice(_RELATIVE)
    scheme = r.choice(_SCHEMES)
    sep = r.choice(["://", "://", ":", ":/", ""])
    s = (scheme + sep if scheme else r.choice(["", "//", "/"])) + r.choice(_USERS)
    s += r.choice(_HOSTS) + r.choice(_PORTS) + r.choice(_PATHS) + r.choice(_TAILS)
    return s


class TestURLParse:
    def test_generated_urls(self) -> None:
        """Fields, String, Redacted and error texts equal Go's for generated URLs."""
        r = random.Random(20261125)
        inputs = sorted({gen_url(r) for _ in range(N)})
        answers = ask("goenv.url", [{"S": s} for s in inputs])
        mismatches = []
        for s, a in zip(inputs, answers, strict=True):
            want = a.error if a.error is not None else a.result
            if ours(s) != want:
                mismatches.append((s, ours(s), want))
        assert not mismatches, mismatches[:5]


def _key(name: str, r: random.Random) -> str:
    key = bytes([r.choice([1, 1, 1, 2])]) + r.randbytes(r.choice([32, 32, 31, 0]))
    h = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex()
    if r.random() < 0.2:
        h = r.choice([h.upper(), h[:7], h[:7] + "g", "0x" + h[2:], "+" + h[1:]])
    k64 = base64.b64encode(key).decode()
    if r.random() < 0.2:
        k64 = r.choice([k64.rstrip("="), k64 + "=", k64[:-2] + "!=", "", k64 + "AA"])
    return f"{name}+{h}+{k64}"


class TestVerifierKeys:
    def test_generated_keys(self) -> None:
        """check_verifier_key accepts and refuses what note.NewVerifier does, same texts."""
        r = random.Random(7)
        names = ["sum.example", "a", "", "a b", "é", "x\u2028y", "x\x1cy", "sum.example/p"]
        inputs = sorted({_key(r.choice(names), r) for _ in range(N // 5)} | {"a", "a+b", "++"})
        answers = ask("note.verifier", [{"Key": k} for k in inputs])
        for k, a in zip(inputs, answers, strict=True):
            try:
                got: str | None = None
                name = check_verifier_key(k)
            except InvalidInput as e:
                got = str(e)
            assert got == a.error, k
            if got is None:
                assert name == a.result["name"], k
