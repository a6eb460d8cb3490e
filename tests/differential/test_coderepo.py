"""gomodproxy.gomod.coderepo's Go-string helpers against the oracle: go_quote against
strconv.Quote and module_path_of (the findDir reader of go.mod bytes) against
modfile.ModulePath, on fixed edge cases and generated texts. One oracle call per family."""

from __future__ import annotations

from hypothesis import strategies as st

from gomodproxy.gomod import coderepo as cr
from tests.differential.oracle import SCALE, ask
from tests.property.filetrees import draw_many
from tests.property.gomod_texts import gomod_texts

N = 500 * SCALE

MODULE_LINES = [
    "module x.test/m",
    "module\txy\r",
    "module `x.test/a\rb`",
    "module `x`y`",
    'module "x.test/\\x41"',
    'module "x.test/\\101"',
    'module "x.test/\\U00000041"',
    'module "x.test/\\/"',
    'module "a\x01b"',
    'module "a" "b"',
    'module "x',
    "module\xa0x.test/m",
    "module \u3000x.test/m\u3000",
    "\x85module x.test/n",
    "module x.test/é // c",
    "module",
    "",
]

QUOTE_CHARS = st.sampled_from(
    list("aZ09./-_~\"'\\`é\a\b\f\n\r\t\v\x00\x1f\x7f\x85\xa0\u2028\u0378\U0001fae8\U000e0001")
)


def test_module_path_of() -> None:
    """findDir reads the module path of go.mod bytes exactly as modfile.ModulePath."""
    lines = draw_many(st.lists(st.sampled_from(MODULE_LINES), max_size=3).map("\n".join), N, seed=5)
    texts = sorted(set(MODULE_LINES + lines + draw_many(gomod_texts(), N, seed=6)))
    answers = ask("modfile.module_path", [{"Data": t} for t in texts])
    bad = [
        (t, got, a.result)
        for t, a in zip(texts, answers, strict=True)
        if (got := cr.module_path_of(t.encode())) != a.result
    ]
    assert not bad, bad[:5]


def test_go_quote() -> None:
    """Error texts quote paths with %q exactly as strconv.Quote (Go's IsPrint tables)."""
    strings = sorted(set(draw_many(st.text(QUOTE_CHARS, max_size=6), N, seed=7)))
    answers = ask("go.quote", [{"S": s} for s in strings])
    bad = [
        (s, got, a.result["quote"])
        for s, a in zip(strings, answers, strict=True)
        if (got := cr.go_quote(s)) != a.result["quote"]
    ]
    assert not bad, bad[:5]
