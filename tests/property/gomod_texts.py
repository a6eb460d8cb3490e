"""Hypothesis strategy for go.mod texts: the directives a proxy reads, their near misses, the
other directives, comments in every place the parser attaches them, blocks, and characters the
lexer refuses. Shared by tests/differential/test_modfile.py and tests/property."""

from __future__ import annotations

import random

from hypothesis import strategies as st

MODULE = [
    "module example.com/m",
    'module "example.com/q"',
    "module `example.com/raw`",
    "module",
    "module a b",
    'module "a\\x41"',
    'module "a\\q"',
    'module "\\u00e9\\U0001F600\\101"',
    "module a'b",
    "module example.com/m/v2",
]
GO = ["go 1.21", "go 1.21.0", "go 1.21rc1", "go v1.21", "go 1.21-x", "go 1", "go 1.21 1.22"]
GO += ["go", "go 01.2", 'go "1.21"', "go 1.22.3", "go 1.2.3.4"]
TOOLCHAIN = [
    "toolchain go1.22.0",
    "toolchain default",
    "toolchain go2",
    "toolchain",
    "toolchain go1",
]
VERSIONS = [
    "v1.0.0",
    "v1.2",
    "v1",
    '"v1.0.0"',
    "vX",
    "v2.0.0+incompatible",
    "v0.0.0-20200101000000-abcdefabcdef",
    '"v1\\q"',
    "v1.0.0'",
]
RETRACT = [
    "retract {v}",
    "retract [{v}, {w}]",
    "retract [ {v} , {w} ]",
    "retract [{v} {w}]",
    "retract [{v},",
    "retract [",
    "retract [{v}, {w}",
    "retract [{v}, {w}] extra",
    "retract {v} extra",
    "retract",
    "retract ( {v} )",
]
REQUIRE = [
    "require a.example/b {v}",
    "require a.example/b/v2 {v}",
    "require gopkg.in/yaml.v2 {v}",
    "require a.example/b",
    '"a.example/q" {v}',
    "require a.example/b {v} // indirect",
    "require a.example/b {v} // indirect; why",
    "require ./x {v}",
    "exclude a.example/b {v}",
    "replace a.example/b => ./local",
    "replace a.example/b {v} => c.example/d {w}",
    "replace a.example/b => c.example/d",
    "replace a.example/b => c.example/d@v1.0.0",
    "replace a.example/b => ./x {v}",
    "replace a.example/b => .\\win",
    "replace a.example/b",
    "replace a.example/b/v3 {v} => ../y",
    "godebug default=go1.21",
    "godebug x",
    "godebug 'x=1'",
    "tool a.example/cmd",
    "tool",
    "ignore ./vendor",
    "ignore a b",
    "foo bar",
]
COMMENTS = [
    "// Deprecated: use example.com/m/v2",
    "// Deprecated:",
    "//Deprecated: tight",
    "// see the docs",
    "//",
    "// Deprecated: a",
    "// b",
    "/* block */",
    "// indirect",
]
NOISE = [
    "\x00",
    "\v",
    "\u00a0",
    "{",
    "}",
    "]",
    ",",
    "=>",
    '"open',
    "`open",
    "é",
    "a/*b",
    "x//y",
    "\t",
]
BLOCK_VERBS = [
    "require",
    "retract",
    "module",
    "exclude",
    "replace",
    "go",
    "tool",
    "ignore",
    "godebug",
    "foo",
    "require x",
]


# The text is built from a seed with random.Random: one Hypothesis draw per text keeps the
# thousands of texts a run needs cheap to generate (a draw per fragment costs 20 times more).
_VALID = [
    "module example.com/m",
    'module "example.com/q"',
    "go 1.21",
    "go 1.22.3",
    "toolchain go1.22.0",
    "retract v1.0.0",
    "retract [v1.0.0, v1.1.0]",
    "require a.example/b v1.0.0",
    "require a.example/b v1.0.0 // indirect",
    "exclude a.example/b v1.0.0",
    "replace a.example/b => ./local",
    "ignore ./vendor",
]


def _pick_line(r: random.Random) -> str:
    if r.random() < 0.6:
        text = r.choice(_VALID)
    else:
        pool = r.choice([MODULE, GO, TOOLCHAIN, RETRACT, REQUIRE, RETRACT, MODULE])
        text = r.choice(pool).format(v=r.choice(VERSIONS), w=r.choice(VERSIONS))
    if r.random() < 0.04:
        text += r.choice(NOISE)
    if r.random() < 0.4:
        text += " " + r.choice(COMMENTS)
    return text


def _pick_block(r: random.Random) -> str:
    verb = r.choice(BLOCK_VERBS[:4] * 3 + BLOCK_VERBS)
    if r.random() < 0.15:
        return verb + r.choice([" ()", " ( )", " ( ) // Deprecated: e", " ( x )"])
    open_ = verb + r.choice(["", "", "", " // Deprecated: on paren", " x"]).join([" (", ""])
    body = []
    for _ in range(r.randrange(0, 5)):
        kind = r.randrange(5)
        if kind == 0:
            body.append("")
        elif kind == 1:
            body.append("\t" + r.choice(COMMENTS))
        else:
            line = _pick_line(r)
            rest = line.partition(" ")[2]
            # Inside a block the verb is implied: drop it most of the time.
            body.append("\t" + (rest if rest and r.random() < 0.8 else line))
    close = r.choice([")", ")", ")", ") // tail", ") x", "\t)"])
    return "\n".join([open_, *body, close])


def gomod_text(seed: int) -> str:
    """The go.mod-like text for ``seed``: mostly valid structure, near misses and noise."""
    r = random.Random(seed)
    parts = []
    for _ in range(r.randrange(0, 8)):
        kind = r.randrange(7)
        if kind == 0:
            parts.append("")
        elif kind == 1:
            parts.append(r.choice(COMMENTS[:7]))
        elif kind == 2:
            parts.append(_pick_block(r))
        else:
            parts.append(_pick_line(r))
    sep = r.choice(["\n", "\n", "\n", "\r\n", "\n  "])
    return sep.join(parts) + r.choice(["", "\n", "\n", "\n\n"])


def gomod_texts() -> st.SearchStrategy[str]:
    """go.mod-like texts (see :func:`gomod_text`)."""
    return st.integers(min_value=0, max_value=2**32).map(gomod_text)
