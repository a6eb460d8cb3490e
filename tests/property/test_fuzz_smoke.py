"""Bounded fuzz smoke in ``make test``: parsers of hostile input raise only our own errors.

The same targets as the coverage-guided harnesses (``fuzz/``, ``make fuzz``), driven by
Hypothesis with both raw bytes and inputs shaped like the real thing (paths, go.mod lines,
zips, meta tags, notes, tiles) so the examples get past the first byte. A hang fails through
the test timeout, not a timed assertion.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile

import pytest
from fuzz.targets import TARGETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("GOMODPROXY_FUZZ_EXAMPLES", "120"))
SMOKE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

pieces = st.sampled_from(
    [
        "example.com",
        "m",
        "!a",
        "@v",
        "@latest",
        "list",
        "v1.0.0",
        ".info",
        ".mod",
        ".zip",
        "..",
        ".",
        "/",
        "%",
        "~",
        "v2",
        "+incompatible",
        "-0.20230101000000-abcdefabcdef",
        "\x00",
        "é",
        "gopkg.in",
        "x.v1",
        "!",
        "A",
    ]
)
paths = st.lists(pieces, max_size=12).map(lambda parts: "".join(parts).encode())

gomod_lines = st.sampled_from(
    [
        "module example.com/m",
        "module (",
        ")",
        "go 1.21",
        "go 1.21.0",
        "toolchain go1.22.1",
        "require example.com/x v1.0.0",
        "require (",
        "retract v1.0.0",
        "retract [v1.0.0, v1.1.0]",
        "replace example.com/x => ../x",
        "exclude example.com/x v1.2.3",
        "// Deprecated: no",
        '"quoted',
        "`raw`",
        'module "example.com/m"',
        "godebug default=go1.21",
        "tool x",
        "ignore ./x",
        "\t",
        "\\",
        "(",
        "=>",
        "v1.0.0 // indirect",
    ]
)
gomods = st.lists(gomod_lines | st.text(max_size=20), max_size=15).map(
    lambda lines: "\n".join(lines).encode("utf-8", "surrogateescape")
)

names = st.lists(
    st.sampled_from(
        [
            "example.com/m@v1.0.0/",
            "go.mod",
            "a.go",
            "../",
            "x/",
            "CON",
            "é",
            "\\",
            "vendor/",
            "A.go",
            "a.GO",
            ":",
            "\x00",
            ".git/",
            "sub/go.mod",
        ]
    ),
    min_size=1,
    max_size=5,
).map("".join)


@st.composite
def zips(draw: st.DrawFn) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are part of the attack surface
        for name in draw(st.lists(names, max_size=6)):
            zf.writestr(zipfile.ZipInfo(name), draw(st.binary(max_size=64)))
    data = bytearray(buf.getvalue())
    for _ in range(draw(st.integers(0, 3))):  # flip a few bytes: headers, sizes, offsets
        if data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    return bytes(data)


metas = st.lists(
    st.sampled_from(
        [
            '<meta name="go-import" content="',
            "example.com/m git https://h/r",
            '">',
            "<head>",
            "</head>",
            "<body>",
            "<meta ",
            "name=go-import ",
            "content=",
            "mod",
            "'",
            '"',
            "<!--",
            "-->",
            "&amp;",
            "<",
            ">",
            "\x00",
        ]
    ),
    max_size=20,
).map(lambda parts: "".join(parts).encode())

notes = st.lists(
    st.sampled_from(
        [
            "go.sum database tree\n",
            "123\n",
            "AAAA=\n",
            "\n",
            "— sum.example ",
            "Z3lMcA==\n",
            "sum.example+2a3b4c5d+AV\n",
            "\u2014 x AAAAAAAAAA==\n",
            "\t",
            "\xff",
        ]
    ),
    max_size=10,
).map(lambda parts: "".join(parts).encode("utf-8", "surrogateescape"))

tiles = st.tuples(
    st.lists(
        st.sampled_from(
            ["tile/", "8/", "0/", "x001/", "000", ".p/", "5", "data/", "-1/", "1/", "999"]
        ),
        max_size=8,
    ).map("".join),
    st.binary(max_size=300),
).map(lambda t: t[0].encode() + b"\n" + t[1])

secret_texts = st.lists(
    st.sampled_from(
        [
            "https://",
            "git+ssh://",
            "u:pw@",
            "tok@",
            "host/x",
            "aaaa",
            "1.2",
            ":",
            "/",
            "@",
            " ",
            "'",
            "AKIA",
            "ghp_",
            "gmp_",
            "abcdefgh12",
            "login ",
            "password ",
            "Authorization: ",
            "Bearer ",
            "basic ",
            "=",
            "é",
        ]
    ),
    max_size=16,
).map(lambda parts: "".join(parts).encode())

SHAPED = {
    "request_path": paths,
    "request_key": paths,
    "redaction": secret_texts,
    "gomod": gomods,
    "zip_check": zips(),
    "meta_tags": metas,
    "note": notes,
    "tile": tiles,
}


def _zip_claiming_version_6_4() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("example.com/m@v1.0.0/go.mod", b"module example.com/m\n")
    data = bytearray(buf.getvalue())
    data[data.find(b"PK\x01\x02") + 6] = 64  # "version needed to extract": 6.4
    return bytes(data)


#: Inputs that once escaped as a foreign exception, replayed on every run.
REGRESSIONS: dict[str, list[bytes]] = {
    # zipfile raised NotImplementedError("zip file version 6.4") out of zipfiles.open_zip.
    "zip_check": [_zip_claiming_version_6_4()],
}


@pytest.mark.parametrize(
    ("name", "data"), [(n, d) for n, items in REGRESSIONS.items() for d in items]
)
def test_regressions(name: str, data: bytes) -> None:
    """Inputs found by fuzzing stay fixed."""
    TARGETS[name](data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_our_errors(name: str) -> None:
    """Raw bytes and shaped inputs: only the target's documented errors, and it returns."""
    target = TARGETS[name]

    @SMOKE
    @given(st.binary(max_size=512) | SHAPED[name])
    def run(data: bytes) -> None:
        target(data)

    run()
